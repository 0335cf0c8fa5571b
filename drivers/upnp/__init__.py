"""UPnP IGD, read-only: lists port mappings (conflicts); cannot install the fix (facts: docs/facts/upnp.md U11)."""

from .driver import UpnpDriver

__all__ = ["UpnpDriver"]
