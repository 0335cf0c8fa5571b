"""The upnp driver (under construction)."""
