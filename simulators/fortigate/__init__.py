"""Simulated fortigate device: see :mod:`.device`."""

from .device import simulate

__all__ = ["simulate"]
