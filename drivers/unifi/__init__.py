"""UniFi gateways through the UniFi Network application (UniFi OS consoles and classic controllers)."""

from .driver import UnifiDriver

__all__ = ["UnifiDriver"]
