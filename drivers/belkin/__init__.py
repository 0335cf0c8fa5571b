"""Belkin routers: detected and answered "replace the router" (no usable port forwarding)."""

from .driver import BelkinDriver

__all__ = ["BelkinDriver"]
