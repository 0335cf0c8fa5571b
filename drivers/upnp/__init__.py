"""UPnP IGD, read-only: lists port mappings (conflicts); cannot install the fix (lab-notes finding 7)."""

from .driver import UpnpDriver

__all__ = ["UpnpDriver"]
