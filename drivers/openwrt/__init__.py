"""The openwrt driver (under construction)."""
