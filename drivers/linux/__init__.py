"""The linux driver (under construction)."""
