"""The cisco_ios driver (under construction)."""
