"""The belkin driver (under construction)."""
