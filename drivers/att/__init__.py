"""The att driver (under construction)."""
