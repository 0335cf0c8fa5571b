"""Cisco IOS: its SSH server identifies itself as ``Cisco-<version>`` (docs/facts/fingerprints.md S2)."""

from routerfix.detect import Confidence, Fingerprint

fingerprint = Fingerprint("cisco_ios", ssh=(r"^SSH-[\d.]+-Cisco-[\d.]+",), ssh_confidence=Confidence.HIGH,
                          ssh_evidence="Cisco SSH server (IOS)")
