"""Cisco Meraki MX appliances through the Meraki Dashboard API v1 (HTTPS, JSON)."""

from .driver import MerakiDriver

__all__ = ["MerakiDriver"]
