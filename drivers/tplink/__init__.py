"""The tplink driver (under construction)."""
