"""Meraki MX: cloud-managed, not detectable locally. The ``meraki`` driver talks to the Meraki Dashboard API
(docs/facts/meraki.md M2), never to the appliance, and no unauthenticated marker of the MX's local status page is
documented in a public source routerfix can cite (docs/facts/fingerprints.md H14). The fingerprint is declared so
that ``routerfix detect`` lists the driver as known, and it matches nothing: an MX is never guessed."""

from __future__ import annotations

from routerfix.detect import Fingerprint

fingerprint = Fingerprint("meraki")
