"""The asuswrt driver (under construction)."""
