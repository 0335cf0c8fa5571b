"""The mikrotik driver (under construction)."""
