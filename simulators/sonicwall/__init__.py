"""Simulated SonicWall firewall (SonicOS API): see :mod:`.device`."""

from .device import simulate

__all__ = ["simulate"]
