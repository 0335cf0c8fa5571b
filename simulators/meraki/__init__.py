"""Simulated Meraki Dashboard API for one MX network: see :mod:`.device`."""

from .device import simulate

__all__ = ["simulate"]
