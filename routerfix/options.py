"""The mitigation options as one table: each :class:`~routerfix.planner.MitigationOptions` field with its help
text and command-line flag. The ``routerfix`` command (single host and fleet), the Ansible module's argument
spec and the Nornir task all derive from it, so an option is added in one place.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass
from enum import StrEnum
from typing import Any

from routerfix.planner import MitigationOptions

__all__ = ["MITIGATION_OPTIONS", "OptionKind", "OptionSpec", "option_spec"]


class OptionKind(StrEnum):
    """The value type of an option (named as Ansible's argument spec names them)."""

    BOOL = "bool"
    INT = "int"
    STR = "str"


@dataclass(frozen=True)
class OptionSpec:
    """One mitigation option.

    :param name: the :class:`MitigationOptions` field.
    :param help: one line, phrased for an operator.
    :param flag: the command-line flag (a ``--no-``/``--keep-`` flag for options that default to on).
    :param aliases: older spellings of the flag, still accepted but not shown.
    :param per_host: meaningful for one device only (a fleet command does not offer it).
    """

    name: str
    help: str
    flag: str
    aliases: tuple[str, ...] = ()
    per_host: bool = False

    @property
    def default(self) -> Any:
        """The :class:`MitigationOptions` default."""
        default = MitigationOptions.__dataclass_fields__[self.name].default
        return None if default is MISSING else default

    @property
    def kind(self) -> OptionKind:
        """The value type, from the default (``sink``, with no default, is an address as text)."""
        if isinstance(self.default, bool):
            return OptionKind.BOOL
        if isinstance(self.default, int):
            return OptionKind.INT
        return OptionKind.STR


MITIGATION_OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec("sink", "use this unused LAN address as the sink instead of choosing one", "--sink", per_host=True),
    OptionSpec("replace_conflicting", "allow replacing an existing forward of 5060/5061 that is not routerfix's "
                                      "(only if it is known to be stale)", "--replace-conflicting"),
    OptionSpec("reserve_sink", "reserve the sink in DHCP (off: do not)", "--no-reserve"),
    OptionSpec("manage_nat", "apply the vendor's NAT filtering policy (off: leave NAT filtering alone)", "--keep-nat",
               aliases=("--no-nat",)),
    OptionSpec("sip_alg_off", "turn SIP ALG off (off: leave SIP ALG alone)", "--keep-sip-alg"),
    OptionSpec("flush", "clear inbound SIP connection tracking after the change (off: do not)", "--no-flush"),
    OptionSpec("probe", "ask the router whether anything answers at a candidate sink (off: do not)", "--no-probe"),
    OptionSpec("max_probes", "how many candidate sinks to probe before giving up (0-64)", "--max-probes"),
    OptionSpec("still_ringing", "the site still gets ghost calls although it was mitigated before",
               "--still-ringing"),
    OptionSpec("backup", "take a configuration backup before writing (off: skip it)", "--no-backup"),
)
"""Every mitigation option, in the order the help shows them."""


def option_spec(name: str) -> OptionSpec:
    """The spec of option ``name``."""
    for spec in MITIGATION_OPTIONS:
        if spec.name == name:
            return spec
    raise KeyError(name)
