"""OPNsense firewalls over the MVC REST API (API key and secret)."""

from .driver import OpnsenseDriver

__all__ = ["OpnsenseDriver"]
