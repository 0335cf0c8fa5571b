"""Integrations with the tools MSPs already run: Nornir, Ansible helpers."""
