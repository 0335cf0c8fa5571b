"""Linksys Smart Wi-Fi / Velop routers over JNAP (``POST /JNAP/``)."""

from .driver import LinksysDriver

__all__ = ["LinksysDriver"]
