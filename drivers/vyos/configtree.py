"""Re-export of :mod:`routerfix.drivers._vyatta.configtree` (the ``set`` command form VyOS shares with EdgeOS)."""

from .._vyatta.configtree import Path, parse_commands, quote, rule_table

__all__ = ["Path", "parse_commands", "quote", "rule_table"]
