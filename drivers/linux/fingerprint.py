"""Linux routers: OpenSSH, which Linux, VyOS and EdgeOS all run, so the banner alone leaves them ambiguous
(docs/facts/fingerprints.md S4)."""

from routerfix.detect import Confidence, Fingerprint

fingerprint = Fingerprint("linux", ssh=(r"^SSH-2\.0-OpenSSH_(?!\S* FreeBSD)",), ssh_confidence=Confidence.LOW,
                          ssh_evidence="OpenSSH (Linux, VyOS and EdgeOS all run it)")
