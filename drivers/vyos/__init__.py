"""The vyos driver (under construction)."""
