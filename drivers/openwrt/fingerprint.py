"""OpenWrt: Dropbear is its default SSH server (docs/facts/fingerprints.md S3); other embedded Linux uses it too."""

from routerfix.detect import Confidence, Fingerprint

fingerprint = Fingerprint("openwrt", ssh=(r"^SSH-2\.0-dropbear(?:_[\w.-]+)?",), ssh_confidence=Confidence.MEDIUM,
                          ssh_evidence="Dropbear SSH server (OpenWrt's default)")
