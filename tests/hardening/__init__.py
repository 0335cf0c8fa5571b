"""Hardening tests: fault matrix, idempotence, bad input, secrets, trust, fleet faults and safety, measured."""
