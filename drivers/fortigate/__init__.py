"""FortiGate firewalls over the FortiOS REST API (``/api/v2``, API token)."""

from .driver import FortigateDriver

__all__ = ["FortigateDriver"]
