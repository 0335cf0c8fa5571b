"""Fleet inventories in Nornir's SimpleInventory YAML format, or from any Nornir inventory plugin.

The same three files drive ``routerfix fleet`` and a Nornir script with
:class:`routerfix.integrations.nornir.RouterfixConnection`::

    # hosts.yaml
    shop-12:
      hostname: 203.0.113.12        # defaults to the host's name
      groups: [netgear]
      data:
        password_env: SHOP12_PW     # or password_file: secrets/shop-12 (relative to this file)
    # groups.yaml
    netgear:
      platform: netgear             # the routerfix driver name
      connection_options:
        routerfix:
          extras: {verify_tls: false}   # driver options (Driver.option_names)
    # defaults.yaml
    username: admin
    data:
      password_env: ROUTERFIX_PASSWORD

Resolution follows Nornir exactly: a host's own value, then its groups in
order (each group before its parents), then the defaults. ``data`` keys resolve
one by one the same way; ``connection_options.routerfix`` fields resolve field
by field, so ``extras`` is taken whole from the nearest level that sets it (it is
not merged, as in Nornir).

The driver is ``platform`` (``connection_options.routerfix.platform`` overrides
it, as in Nornir). Credentials are given by reference: ``data.password_env`` (an
environment variable) or ``data.password_file`` (a file holding only the
password). An inline ``password`` works but is reported in
:attr:`Inventory.warnings`. Credentials are resolved when a host is run, so a
missing variable fails that host only.

Per-host mitigation options go in ``data.mitigation`` (``{sink: 192.168.1.250}``,
see :class:`routerfix.MitigationOptions`); per-host timeouts in
``data.timeouts`` (``{connect: 5, read: 20}``).

YAML is read with PyYAML's ``safe_load`` (PyYAML is already installed with
netmiko; it is imported only when an inventory is loaded).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routerfix.credentials import resolve_secret
from routerfix.driver import Timeouts
from routerfix.errors import InvalidValue, RouterfixError
from routerfix.planner import MitigationOptions
from routerfix.secrets import Secret

__all__ = ["CONNECTION_NAME", "FleetHost", "Inventory", "InventoryError", "load_inventory", "load_nornir_inventory",
           "parse_where", "resolve_password"]

log = logging.getLogger("routerfix.inventory")

CONNECTION_NAME = "routerfix"
"""The key under ``connection_options`` (and the Nornir connection plugin name)."""

_HOST_KEYS = frozenset({"hostname", "port", "username", "password", "platform", "groups", "data",
                        "connection_options"})
_DEFAULTS_KEYS = _HOST_KEYS - {"groups"}
_CONN_KEYS = frozenset({"hostname", "port", "username", "password", "platform", "extras"})
_FILES = ("hosts.yaml", "groups.yaml", "defaults.yaml")


class InventoryError(RouterfixError, ValueError):
    """The inventory cannot be used; ``host`` and ``field`` name the culprit where there is one."""

    def __init__(self, message: str, *, host: str | None = None, field: str | None = None,
                 source: str | None = None) -> None:
        host, field, source = (None if v is None else str(v)[:limit] for v, limit in
                               ((host, 80), (field, 80), (source, 200)))  # echoed input stays short
        where = " ".join(p for p in (f"host {host!r}" if host else "", f"field {field!r}" if field else "",
                                     f"in {source}" if source else "") if p)
        super().__init__(f"{where}: {message}" if where else message, host=host)
        self.field = field
        self.source = source


@dataclass(frozen=True)
class FleetHost:
    """One device of a fleet, resolved from the inventory (credentials still by reference).

    :param name: the inventory name (unique; names the report row and the undo record).
    :param hostname: the address routerfix connects to.
    :param driver: the routerfix driver name.
    :param options: driver options (``connection_options.routerfix.extras``).
    :param mitigation: per-host :class:`~routerfix.MitigationOptions` fields (``data.mitigation``).
    :param password: an inline password, if the inventory has one (discouraged).
    :param password_env: the environment variable holding the password.
    :param password_file: the file holding the password.
    """

    name: str
    hostname: str
    driver: str
    port: int | None = None
    username: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    mitigation: Mapping[str, Any] = field(default_factory=dict)
    timeouts: Timeouts | None = None
    groups: tuple[str, ...] = ()
    member_of: tuple[str, ...] = ()
    """Every group the host is in: its own, then their parents (Nornir's ``has_parent_group``)."""
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)
    password: Secret | None = field(default=None, repr=False)
    password_env: str | None = None
    password_file: str | None = None

    def credentials(self) -> Secret | None:
        """The password, resolved now from the environment or the file.

        :raises InventoryError: the variable is unset or the file cannot be read (naming host and field).
        """
        return resolve_password(self.name, password=self.password, password_env=self.password_env,
                                password_file=self.password_file)

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`routerfix.connect` (besides driver and host), credentials resolved."""
        opts: dict[str, Any] = dict(self.options)
        if self.username is not None:
            opts["username"] = self.username
        password = self.credentials()
        if password is not None:
            opts["password"] = password
        if self.port is not None:
            opts["port"] = self.port
        if self.timeouts is not None:
            opts["timeouts"] = self.timeouts
        return opts


@dataclass(frozen=True)
class Inventory:
    """A loaded inventory: its hosts in file order and any warnings (inline passwords, duplicates)."""

    hosts: tuple[FleetHost, ...]
    warnings: tuple[str, ...] = ()
    source: str = ""

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[FleetHost]:
        return iter(self.hosts)

    def names(self) -> list[str]:
        """The host names, in file order."""
        return [h.name for h in self.hosts]

    def select(self, names: Iterable[str]) -> Inventory:
        """Only the hosts whose names are in ``names`` (order kept).

        :raises InventoryError: a name is not in this inventory.
        """
        wanted = list(names)
        known = set(self.names())
        for name in wanted:
            if name not in known:
                raise InventoryError("is not in this inventory", host=str(name), source=self.source or None)
        keep = set(wanted)
        return Inventory(tuple(h for h in self.hosts if h.name in keep), self.warnings, self.source)

    def filter(self, *, groups: Iterable[str] = (), where: Iterable[str | tuple[str, str]] = ()) -> Inventory:
        """Only the hosts in any of ``groups`` (directly or through a parent group) whose ``data`` matches every
        ``where`` condition (``"key=value"``, a dotted key reaching into nested data; a list value matches when
        one element does). Order kept; no condition keeps every host.

        :raises InventoryError: a group that no host is in (a typo would otherwise select nothing silently).
        """
        wanted_groups = [str(g) for g in groups]
        known = {g for h in self.hosts for g in h.member_of}
        for name in wanted_groups:
            if name not in known:
                raise InventoryError(f"no host is in group {name!r} (groups: {', '.join(sorted(known)) or 'none'})",
                                     source=self.source or None)
        conditions = [parse_where(w) if isinstance(w, str) else w for w in where]
        kept = tuple(h for h in self.hosts
                     if (not wanted_groups or any(g in h.member_of for g in wanted_groups))
                     and all(_matches(_data_value(h.data, k), v) for k, v in conditions))
        return Inventory(kept, self.warnings, self.source)


def parse_where(text: str) -> tuple[str, str]:
    """``key=value`` (``key`` may be a dotted path into ``data``, e.g. ``site.region=eu``) as a pair."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidValue("where", text, "key=value, e.g. region=eu or site.tier=gold")
    return key.strip(), value.strip()


def _data_value(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted.lower() in (("true", "yes", "1") if value else ("false", "no", "0"))
    if isinstance(value, (list, tuple, set)):
        return any(_matches(v, wanted) for v in value)
    return value is not None and str(value) == wanted


def resolve_password(host: str, *, password: str | Secret | None = None, password_env: str | None = None,
                     password_file: str | Path | None = None) -> Secret | None:
    """The password of ``host``: inline, else from ``password_file``, else from ``password_env``
    (:func:`routerfix.credentials.resolve_secret`).

    A password file must hold only the password (a trailing newline is dropped); a file other users can
    read is used but logged as a warning.

    :raises InventoryError: the variable is unset/empty or the file cannot be read.
    """
    try:
        return resolve_secret("password", value=password, env=password_env, file=password_file,
                              fields=("data.password_file", "data.password_env"))
    except InvalidValue as exc:
        message = (f"environment variable {exc.value} is not set (or empty)" if exc.field == "data.password_env"
                   else f"cannot use the password file {str(exc.value)!r}: expected {exc.expected}")
        raise InventoryError(message, host=host, field=exc.field) from None


# --- loading -----------------------------------------------------------------------------------


MAX_INVENTORY_BYTES = 4 * 1024 * 1024
"""The largest inventory file read (a 10,000-host inventory is about 2 MB)."""
MAX_YAML_NODES = 500_000
"""The most YAML nodes an inventory file may expand to once its aliases are followed: anchors and aliases
(``&defaults`` / ``*defaults``) work as usual, an alias bomb (a few hundred bytes naming a billion nodes) is
refused before anything is built."""
MAX_YAML_DEPTH = 64
"""The deepest nesting an inventory file may have."""


def _expanded_nodes(root: Any, source: str, what: str) -> int:
    """How many nodes ``root`` (a composed YAML node graph) stands for with every alias expanded; refuses
    recursion, nesting deeper than :data:`MAX_YAML_DEPTH` and more than :data:`MAX_YAML_NODES`."""
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise InventoryError(f"the {what} file has a recursive alias", source=source)
        if depth > MAX_YAML_DEPTH:
            raise InventoryError(f"the {what} file nests deeper than {MAX_YAML_DEPTH} levels", source=source)
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
                if total > MAX_YAML_NODES:
                    break
        open_nodes.discard(key)
        if total > MAX_YAML_NODES:
            raise InventoryError(f"the {what} file expands to more than {MAX_YAML_NODES:,} YAML nodes through its "
                                 f"aliases: refused (an alias bomb?)", source=source)
        sizes[key] = total
        return total

    return size(root, 0)


def _read_yaml(path: Path | None, what: str) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    import yaml

    loader = None
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_INVENTORY_BYTES + 1)
        if len(raw) > MAX_INVENTORY_BYTES:
            raise InventoryError(f"the {what} file is larger than {MAX_INVENTORY_BYTES:,} bytes", source=str(path))
        loader = yaml.SafeLoader(raw.decode("utf-8"))
        node = loader.get_single_node()
        if node is None:
            return {}
        _expanded_nodes(node, str(path), what)
        data = loader.construct_document(node)
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read the {what} file: {str(exc)[:200]}", source=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InventoryError(f"the {what} file is not valid YAML{at}", source=str(path)) from None
    finally:
        if loader is not None:
            loader.dispose()
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InventoryError(f"the {what} file must be a mapping of names to settings", source=str(path))
    return data


def _locate(path: str | Path) -> tuple[Path, Path | None, Path | None]:
    """hosts, groups and defaults files for a directory or a hosts file (siblings are found by name)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return p / "hosts.yaml", p / "groups.yaml", p / "defaults.yaml"
    return p, p.parent / "groups.yaml", p.parent / "defaults.yaml"


class _Level:
    """One inventory element (host, group or defaults) with its parents, for Nornir-style lookups."""

    def __init__(self, name: str, raw: Mapping[str, Any], parents: list[_Level]) -> None:
        self.name = name
        self.raw = raw
        self.parents = parents

    def chain(self) -> list[_Level]:
        """Self, then each parent group depth-first (Nornir's order); defaults are added by the caller."""
        out: list[_Level] = [self]
        for p in self.parents:
            for level in p.chain():
                if level not in out:
                    out.append(level)
        return out


def _check_element(kind: str, name: str, raw: object, allowed: frozenset[str], source: str) -> dict[str, Any]:
    host = name if kind == "host" else None
    label = "" if kind == "host" else f"{kind} {name!r}: "
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InventoryError(f"{label}settings must be a mapping", host=host, source=source)
    for key in raw:
        if key not in allowed:
            raise InventoryError(f"{label}unknown setting (known: {', '.join(sorted(allowed))})", host=host,
                                 field=str(key), source=source)
    for key in ("hostname", "username", "password", "platform"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            raise InventoryError(f"{label}must be a string", host=host, field=key, source=source)
    if "port" in raw and raw["port"] is not None and (isinstance(raw["port"], bool) or not isinstance(raw["port"], int)
                                                      or not 1 <= raw["port"] <= 65535):
        raise InventoryError(f"{label}must be a TCP port from 1 to 65535", host=host, field="port", source=source)
    if "data" in raw and raw["data"] is not None and not isinstance(raw["data"], dict):
        raise InventoryError(f"{label}must be a mapping", host=host, field="data", source=source)
    conns = raw.get("connection_options")
    if conns is not None:
        if not isinstance(conns, dict):
            raise InventoryError(f"{label}must be a mapping", host=host, field="connection_options", source=source)
        ours = conns.get(CONNECTION_NAME)
        if ours is not None:
            if not isinstance(ours, dict):
                raise InventoryError(f"{label}must be a mapping", host=host,
                                     field=f"connection_options.{CONNECTION_NAME}", source=source)
            for key in ours:
                if key not in _CONN_KEYS:
                    raise InventoryError(f"{label}unknown setting (known: {', '.join(sorted(_CONN_KEYS))})",
                                         host=host, field=f"connection_options.{CONNECTION_NAME}.{key}",
                                         source=source)
            extras = ours.get("extras")
            if extras is not None and not isinstance(extras, dict):
                raise InventoryError(f"{label}must be a mapping of driver options", host=host,
                                     field=f"connection_options.{CONNECTION_NAME}.extras", source=source)
    groups = raw.get("groups")
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        raise InventoryError(f"{label}must be a list of group names", host=host, field="groups", source=source)
    return raw


def load_inventory(path: str | Path, *, groups_file: str | Path | None = None,
                   defaults_file: str | Path | None = None) -> Inventory:
    """Load a Nornir SimpleInventory: ``path`` is a directory holding ``hosts.yaml`` (and optionally
    ``groups.yaml``, ``defaults.yaml``) or a hosts file whose siblings of those names are read too. A Nornir
    configuration file (``inventory: {plugin: …, options: {…}}``) loads its inventory plugin instead
    (:func:`load_nornir_inventory`).

    Structure is validated now (unknown keys, types, unknown groups, unknown drivers and driver
    options, mitigation options); credentials are resolved later, per host, when it is run.

    :raises InventoryError: naming the host (or group) and the field.
    """
    plugin = _nornir_config(Path(path).expanduser())
    if plugin is not None:
        return load_nornir_inventory(plugin[0], plugin[1], source=str(path))
    hosts_path, groups_path, defaults_path = _locate(path)
    if groups_file is not None:
        groups_path = Path(groups_file)
    if defaults_file is not None:
        defaults_path = Path(defaults_file)
    if not hosts_path.exists():
        raise InventoryError(f"no hosts file at {hosts_path} (pass a hosts.yaml or a directory holding one)")
    return _build(_read_yaml(hosts_path, "hosts"), _read_yaml(groups_path, "groups"),
                  _read_yaml(defaults_path, "defaults"), src_hosts=str(hosts_path), src_groups=str(groups_path),
                  src_defaults=str(defaults_path))


def _nornir_config(path: Path) -> tuple[str, dict[str, Any]] | None:
    """``(plugin, options)`` when ``path`` is a Nornir configuration file with an ``inventory`` section."""
    if not path.is_file() or path.name in _FILES:
        return None
    raw = _read_yaml(path, "Nornir configuration")
    section = raw.get("inventory")
    if not isinstance(section, dict) or "plugin" not in section:
        return None
    plugin, options = section.get("plugin"), section.get("options") or {}
    if not isinstance(plugin, str) or not plugin or not isinstance(options, dict):
        raise InventoryError("inventory.plugin must be a plugin name and inventory.options a mapping",
                             source=str(path))
    return plugin, options


def load_nornir_inventory(plugin: str, options: Mapping[str, Any] | None = None, *,
                          source: str | None = None) -> Inventory:
    """Load hosts through a Nornir inventory plugin (``SimpleInventory``, or any registered in the
    ``nornir.plugins.inventory`` entry-point group: NetBox, Ansible, a CMDB's) and validate them as
    :func:`load_inventory` does. Needs ``routerfix[nornir]``."""
    try:
        from nornir.core.plugins.inventory import InventoryPluginRegister
    except ImportError:
        raise InventoryError("reading a Nornir inventory plugin needs Nornir: pip install 'routerfix[nornir]'",
                             source=source) from None
    InventoryPluginRegister.auto_register()
    try:
        plugin_class = InventoryPluginRegister.get_plugin(plugin)
    except Exception:  # noqa: BLE001 - nornir raises its own PluginNotRegistered
        known = ", ".join(sorted(InventoryPluginRegister.available)) or "none"
        raise InventoryError(f"no Nornir inventory plugin {plugin!r} is installed (installed: {known})",
                             source=source) from None
    try:
        loaded = plugin_class(**dict(options or {})).load()
    except (OSError, TypeError, ValueError) as exc:
        raise InventoryError(f"the Nornir inventory plugin {plugin!r} failed: {type(exc).__name__}: "
                             f"{str(exc)[:200]}", source=source) from None

    def element(obj: Any) -> dict[str, Any]:
        raw = {k: v for k, v in obj.dict().items() if k != "name"}
        return {k: v for k, v in raw.items() if v not in (None, [], {})}

    where = source or f"Nornir {plugin}"
    return _build({name: element(h) for name, h in loaded.hosts.items()},
                  {name: element(g) for name, g in loaded.groups.items()}, element(loaded.defaults),
                  src_hosts=where, src_groups=where, src_defaults=where)


def _build(hosts_raw: Mapping[Any, Any], groups_raw: Mapping[Any, Any], defaults_raw: object, *, src_hosts: str,
           src_groups: str, src_defaults: str) -> Inventory:
    """Validate and resolve an inventory given as SimpleInventory's three mappings."""
    defaults_checked = _check_element("defaults", "defaults", defaults_raw, _DEFAULTS_KEYS, src_defaults)
    groups: dict[str, _Level] = {}
    checked_groups = {str(n): _check_element("group", str(n), g, _HOST_KEYS, src_groups)
                      for n, g in groups_raw.items()}

    def group(name: str, trail: tuple[str, ...], host: str) -> _Level:
        if name in trail:
            raise InventoryError(f"groups include each other in a loop: {' -> '.join((*trail, name))}", host=host,
                                 field="groups", source=src_groups)
        if name not in checked_groups:
            raise InventoryError(f"unknown group {name!r} (not in {src_groups})", host=host, field="groups",
                                 source=src_hosts)
        if name not in groups:
            raw = checked_groups[name]
            groups[name] = _Level(name, raw, [group(g, (*trail, name), host) for g in raw.get("groups") or []])
        return groups[name]

    defaults = _Level("defaults", defaults_checked, [])
    warnings: list[str] = []
    result: list[FleetHost] = []
    seen_addresses: dict[tuple[str, str], str] = {}
    for raw_name, raw in hosts_raw.items():
        name = str(raw_name)
        checked = _check_element("host", name, raw, _HOST_KEYS, src_hosts)
        level = _Level(name, checked, [group(g, (), name) for g in checked.get("groups") or []])
        fleet_host = _resolve(name, level, defaults, src_hosts, warnings)
        key = (fleet_host.driver, fleet_host.hostname)
        if key in seen_addresses:
            warnings.append(f"hosts {seen_addresses[key]!r} and {name!r} are the same device "
                            f"({fleet_host.driver} {fleet_host.hostname}): they would be changed at the same time")
        seen_addresses.setdefault(key, name)
        result.append(fleet_host)
    for text in warnings:
        log.warning("%s", text)
    return Inventory(tuple(result), tuple(warnings), src_hosts)


def _resolve(name: str, level: _Level, defaults: _Level, source: str, warnings: list[str]) -> FleetHost:
    from routerfix import get_driver

    chain = [*level.chain(), defaults]

    def attr(key: str) -> Any:
        for lv in chain:
            value = lv.raw.get(key)
            if value is not None:
                return value
        return None

    def conn(key: str) -> tuple[Any, str]:
        for lv in chain:
            ours = (lv.raw.get("connection_options") or {}).get(CONNECTION_NAME) or {}
            if ours.get(key) is not None:
                return ours[key], lv.name
        return None, ""

    def data(key: str) -> tuple[Any, str]:
        for lv in chain:
            d = lv.raw.get("data") or {}
            if key in d and d[key] is not None:
                return d[key], lv.name
        return None, ""

    merged_data: dict[str, Any] = {}
    for lv in reversed(chain):
        merged_data.update(lv.raw.get("data") or {})

    driver_name = conn("platform")[0] or attr("platform")
    if not driver_name:
        raise InventoryError("no routerfix driver: set platform (on the host, a group or the defaults)", host=name,
                             field="platform", source=source)
    try:
        driver_cls = get_driver(driver_name)
    except RouterfixError as exc:
        raise InventoryError(str(exc), host=name, field="platform", source=source) from None
    extras = conn("extras")[0] or {}
    unknown = sorted(set(extras) - set(driver_cls.option_names))
    if unknown:
        allowed = ", ".join(sorted(driver_cls.option_names)) or "none"
        raise InventoryError(f"{driver_name} has no option {unknown[0]!r} (its options: {allowed})", host=name,
                             field=f"connection_options.{CONNECTION_NAME}.extras.{unknown[0]}", source=source)

    password, where = conn("password")
    if password is None:
        for lv in chain:
            if lv.raw.get("password") is not None:
                password, where = lv.raw["password"], lv.name
                break
    if password is not None:
        warnings.append(f"host {name!r}: an inline password (from {where!r}) is in the inventory; prefer "
                        f"data.password_env or data.password_file")

    refs: dict[str, str | None] = {}
    for key in ("password_env", "password_file"):
        value, _origin = data(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise InventoryError("must be a non-empty string", host=name, field=f"data.{key}", source=source)
        if key == "password_file" and value is not None and not Path(value).expanduser().is_absolute():
            value = str(Path(source).parent / value)
        refs[key] = value

    mitigation, _ = data("mitigation")
    if mitigation is None:
        mitigation = {}
    if not isinstance(mitigation, dict):
        raise InventoryError("must be a mapping of mitigation options", host=name, field="data.mitigation",
                             source=source)
    try:
        MitigationOptions.build(mitigation)
    except InvalidValue as exc:
        raise InventoryError(exc.message, host=name, field=f"data.mitigation.{exc.field}", source=source) from None

    timeouts_raw, _ = data("timeouts")
    timeouts = None
    if timeouts_raw is not None:
        if not isinstance(timeouts_raw, dict):
            raise InventoryError("must be a mapping like {connect: 5, read: 20}", host=name, field="data.timeouts",
                                 source=source)
        try:
            timeouts = Timeouts(**timeouts_raw)
        except TypeError:
            raise InventoryError("keys are connect, read and apply", host=name, field="data.timeouts",
                                 source=source) from None
        except InvalidValue as exc:
            raise InventoryError(exc.message, host=name, field=f"data.{exc.field}", source=source) from None

    hostname = conn("hostname")[0] or attr("hostname") or name
    if any(c.isspace() for c in hostname) or not hostname:
        raise InventoryError("must be a host name or address without spaces", host=name, field="hostname",
                             source=source)
    return FleetHost(
        name=name, hostname=hostname, driver=driver_name, port=conn("port")[0] or attr("port"),
        username=conn("username")[0] or attr("username"), options=dict(extras), mitigation=dict(mitigation),
        timeouts=timeouts, groups=tuple(level.raw.get("groups") or ()),
        member_of=tuple(lv.name for lv in level.chain()[1:]), data=merged_data,
        password=None if password is None else Secret(password), password_env=refs.get("password_env"),
        password_file=refs.get("password_file"),
    )
