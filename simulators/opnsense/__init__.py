"""A simulated OPNsense firewall (REST API) on 127.0.0.1."""

from .device import OpnsenseFirewall, simulate

__all__ = ["OpnsenseFirewall", "simulate"]
