"""SonicWall firewalls over the SonicOS API (``/api/sonicos``, SonicOS 6.5.4+ and 7)."""

from .driver import SonicwallDriver

__all__ = ["SonicwallDriver"]
