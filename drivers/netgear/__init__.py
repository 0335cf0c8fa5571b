"""The ``netgear`` driver: Nighthawk routers (ACOS and net-cgi web GUIs) and their simulator."""

from .driver import NetgearDriver

__all__ = ["NetgearDriver"]
