"""ASUSWRT routers (RT-AC/RT-AX, stock and Merlin) over ``login.cgi``/``appGet.cgi``/``applyapp.cgi``."""

from .driver import AsuswrtDriver

__all__ = ["AsuswrtDriver"]
