"""TP-Link routers: legacy ``/userRpm/`` web GUI; Archer (LuCI) detected and answered "not supported yet"."""

from .driver import TplinkDriver

__all__ = ["TplinkDriver"]
