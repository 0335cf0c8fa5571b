"""A simulated UniFi Network application (UniFi OS console or classic controller) on 127.0.0.1."""

from .device import UnifiController, simulate

__all__ = ["UnifiController", "simulate"]
