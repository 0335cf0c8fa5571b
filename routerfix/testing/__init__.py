"""The driver conformance kit (filled in below)."""
