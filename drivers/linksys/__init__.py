"""The linksys driver (under construction)."""
