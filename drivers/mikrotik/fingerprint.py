"""MikroTik RouterOS: its SSH server identifies itself as ``ROSSSH`` (docs/facts/fingerprints.md S1)."""

from routerfix.detect import Confidence, Fingerprint

fingerprint = Fingerprint("mikrotik", ssh=(r"^SSH-[\d.]+-ROSSSH\b",), ssh_confidence=Confidence.HIGH,
                          ssh_evidence="MikroTik RouterOS SSH server")
