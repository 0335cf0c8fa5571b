"""The netgear driver (under construction)."""
