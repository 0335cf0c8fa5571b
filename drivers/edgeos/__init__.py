"""The edgeos driver (under construction)."""
