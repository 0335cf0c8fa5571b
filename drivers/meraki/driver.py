"""Cisco Meraki MX appliances through the Meraki Dashboard API v1 (``https://api.meraki.com/api/v1``, JSON).

Facts: ``docs/facts/meraki.md`` (rows ``M<n>``). The API key is the ``password`` (a
:class:`~routerfix.secrets.Secret`) and travels as ``Authorization: Bearer`` (M1) on every request, built by
:class:`~routerfix.transport.http.HttpSession` only while a request is prepared; the ``network_id`` option names the
MX network (``organization_id`` is only reported). One ``GET /networks/{id}`` checks the key at open (M2).

Why not the official ``meraki`` SDK (M16): it re-sends PUTs after a transport error or a 5xx (a blind write
retry), holds the key as a plain header string and logs its tail, trusts only a CA bundle (no pinning), and on
import patches ``requests`` for every user in the process; routerfix's :class:`HttpSession` keeps TLS verification
and ``tls_fingerprint`` pinning, Secret-only credentials and the timeouts, and :meth:`HttpSession.guarded_write`
never repeats a write blindly. No extra dependency is needed.

Port forwarding is one list replaced whole by ``PUT .../appliance/firewall/portForwardingRules`` (M3, M4): every
write is read-modify-write of the customer's rules kept whole (fields this driver does not know included), and
the list is re-read just before the PUT and the write refused when it changed since it was read (another admin
or tool at work, M6 inferred). Rate limits: a 429 is waited out for its ``Retry-After`` (bounded by
``max_retry_after``, at most ``rate_limit_retries`` times, M12); a 429 applied nothing, so a PUT answered 429 may
be sent again. The MX has no NAT filtering mode and no SIP ALG setting in the API (M13, M14): neither is read
nor written.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.enums import ActionKind
from routerfix.errors import AuthenticationError, DeviceError, InvalidValue, ParseError
from routerfix.model import (
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Neighbour,
    PortForward,
    Reservation,
)
from routerfix.secrets import Secret, register
from routerfix.transport.http import Page

from .parser import (
    forward_to_rule,
    load,
    parse_clients,
    parse_fixed,
    parse_rules,
    parse_scope,
    reservation_entry,
)

__all__ = ["MerakiDriver"]

log = logging.getLogger("routerfix.drivers.meraki")

API = "/api/v1"
MAX_PAGES = 20
"""Pages of clients followed at most (1000 each, M11)."""
_NOTES = ("The MX has no NAT filtering mode: the mitigation changes no NAT setting (M13)",
          "The MX has no SIP ALG setting in the Dashboard API (M14)")
_BASE = Capabilities(features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE,
                                         Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.BACKUP}),
                     max_forwards=None, forward_ranges=True, forward_both=False, orders_rules=False, notes=_NOTES)
_SINGLE_LAN_NOTE = ("VLANs are off on this network: the single-LAN API has no fixed IP assignments (M9); reserve "
                    "the sink by hand in Dashboard (Security & SD-WAN > DHCP) if wanted")


class MerakiDriver(WebDriver):
    """Meraki MX network. ``host``: ``api.meraki.com`` (or a regional Dashboard host). ``password``: the API key.
    Options: the HTTP options plus ``network_id`` (required), ``organization_id``, ``vlan_id`` (the VLAN whose
    DHCP holds the phones, default ``"1"``), ``rate_limit_retries`` (default 3) and ``max_retry_after``
    (seconds, default 10)."""

    name: ClassVar[str] = "meraki"
    capabilities = _BASE
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"network_id", "organization_id", "vlan_id",
                                                                   "rate_limit_retries", "max_retry_after"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "network_id": "the MX network's id, e.g. N_24329156 (required)",
        "organization_id": "the organization's id (only reported)",
        "vlan_id": "the VLAN whose DHCP serves the phones, where VLANs are on (default 1)",
        "rate_limit_retries": "times a 429 Too Many Requests is waited out, 0-10 (default 3)",
        "max_retry_after": "longest Retry-After in seconds waited for, 0-120 (default 10); a longer one fails",
    }
    default_scheme: ClassVar[str] = "https"
    default_headers: ClassVar[dict[str, str]] = {"Accept": "application/json"}
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD})

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self.network_id = self._id_option("network_id", required=True)
        self.organization_id = self._id_option("organization_id", required=False)
        self.vlan_id = self._id_option("vlan_id", required=False) or "1"
        retries = self.options.get("rate_limit_retries", 3)
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise InvalidValue("rate_limit_retries", retries, "a whole number from 0 to 10")
        wait = self.options.get("max_retry_after", 10.0)
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait <= 120:
            raise InvalidValue("max_retry_after", wait, "seconds from 0 to 120")
        self.rate_limit_retries, self.max_retry_after = retries, float(wait)
        self._network: dict[str, Any] = {}
        self._vlans: bool | None = None
        """Whether the network uses VLANs (M7), read once per session."""
        self._fresh_rules: list[dict[str, Any]] | None = None
        """The rules of the last read, used once as the base of a read-modify-write (re-read before the PUT)."""
        self._held: list[dict[str, Any]] | None = None
        """Inside :meth:`write_batch`: the rule list as it will be once the held changes land."""
        self._held_base: list[dict[str, Any]] | None = None
        self._held_what: list[str] = []
        self.rate_limited = 0
        """429 answers waited out in this session."""

    def _id_option(self, key: str, *, required: bool) -> str | None:
        value = self.options.get(key)
        if value is None and not required:
            return None
        text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
        # M2: ids are short tokens such as "N_24329156" or "L_1234"; nothing that could change the URL path
        if not text or len(text) > 64 or not all(c.isalnum() or c in "_-" for c in text):
            raise InvalidValue(key, value, "a Meraki id such as N_24329156")
        return text

    # --- wire -------------------------------------------------------------------------------------

    def _path(self, tail: str) -> str:
        return f"{API}/networks/{self.network_id}{tail}"

    def _send(self, method: str, path: str, *, page: str, body: Any = None,
              params: dict[str, str] | None = None) -> Page:
        """One request, 429 waited out per ``Retry-After`` (bounded, M12). Other statuses map as in
        :meth:`HttpSession.request`; a 4xx carries the API's ``errors`` list (M15)."""
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if body is not None else None
        for attempt in range(self.rate_limit_retries + 1):
            result = self.http.request(method, path, page=page, params=params, data=data, headers=headers,
                                       ok_status=(200, 429))
            if result.status != 429:
                return result
            self.rate_limited += 1
            wait = self._retry_after(result.headers)
            if attempt == self.rate_limit_retries or wait > self.max_retry_after:
                break
            log.info("%s: %s rate limited (HTTP 429); waiting %.1fs as asked", self.host, page, wait)
            time.sleep(wait)
        raise DeviceError(f"{page}: the Dashboard API kept answering 429 Too Many Requests", device_message="",
                          host=self.host, driver=self.name)

    @staticmethod
    def _retry_after(headers: Mapping[str, str]) -> float:
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), "1")
        try:
            return max(0.0, float(value))
        except ValueError:
            return 1.0  # M12 (inferred): an unreadable Retry-After waits one second

    def _get(self, path: str, page: str, params: dict[str, str] | None = None) -> Any:
        from routerfix.retry import retry_transient

        result = retry_transient(lambda: self._send("GET", path, page=page, params=params),
                                 wait=self.timeouts.retry_wait, max_wait=8 * self.timeouts.retry_wait)
        return load(result.text, page)

    def _login(self) -> None:
        if self.password is None or not self.password.reveal():
            raise AuthenticationError("the Dashboard API needs an API key (pass it as the password)",
                                      host=self.host, driver=self.name)
        key = self.password.reveal()
        register(key)
        self.http.set_credentials(headers={"Authorization": Secret("Bearer " + key)})
        result = self._send("GET", self._path(""), page="GET /networks/{networkId}")
        network = load(result.text, "network")
        if not isinstance(network, dict) or "appliance" not in (network.get("productTypes") or []):
            raise DeviceError(f"network {self.network_id} has no MX appliance", device_message=str(
                network.get("productTypes") if isinstance(network, dict) else ""), host=self.host, driver=self.name)
        self._network = network

    def _on_open(self) -> None:
        """Whether the network uses VLANs (M7): it decides where fixed IP assignments live, and whether there are
        any (M9), so the capabilities are right from the start."""
        self._uses_vlans()

    def _on_close(self) -> None:
        self._vlans, self._fresh_rules = None, None

    # --- reads --------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """The network's name and product types (read at open)."""
        net = self._network
        return DeviceFacts("Cisco Meraki", "MX (" + ", ".join(net.get("productTypes") or []) + ")", "",
                           str(net.get("name") or self.network_id))

    def _uses_vlans(self) -> bool:
        if self._vlans is None:
            data = self._get(self._path("/appliance/vlans/settings"), "vlans/settings")
            value = data.get("vlansEnabled") if isinstance(data, dict) else None
            if not isinstance(value, bool):
                raise ParseError("vlans/settings", "'vlansEnabled' missing")
            self._vlans = value
            self.capabilities = _BASE if value else _BASE.replace(
                features=_BASE.features - {Feature.DHCP_RESERVATION}, notes=(*_NOTES, _SINGLE_LAN_NOTE))
        return self._vlans

    def _lan_path(self) -> str:
        return self._path(f"/appliance/vlans/{self.vlan_id}" if self._uses_vlans() else "/appliance/singleLan")

    def _rules(self) -> list[dict[str, Any]]:
        page = "portForwardingRules"
        return parse_rules(self._get(self._path("/appliance/firewall/portForwardingRules"), page), page)[0]

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """The MX's port forwarding rules (``ref`` = index)."""
        page = "portForwardingRules"
        data = self._get(self._path("/appliance/firewall/portForwardingRules"), page)
        rules, forwards = parse_rules(data, page)
        self._fresh_rules = rules
        return tuple(forwards)

    def get_dhcp_scope(self) -> DhcpScope:
        """The VLAN's (or the single LAN's) subnet and fixed IP assignments."""
        return parse_scope(self._get(self._lan_path(), "lan"), "lan")

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """Clients seen in the last day, all pages followed (``Link: rel=next``, M11)."""
        out: list[Neighbour] = []
        path, params = self._path("/clients"), {"timespan": "86400", "perPage": "1000"}
        for _ in range(MAX_PAGES):
            result = self._send("GET", path, page="clients", params=params)
            out.extend(parse_clients(load(result.text, "clients"), "clients"))
            nxt = self._next_link(result.headers)
            if nxt is None:
                return tuple(out)
            path, params = nxt
        raise ParseError("clients", f"more than {MAX_PAGES} pages of clients")

    def _next_link(self, headers: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
        """The ``rel=next`` target as (path, query) on this API; anything else is refused (M11)."""
        import requests

        value = next((v for k, v in headers.items() if k.lower() == "link"), "")
        for link in requests.utils.parse_header_links(value) if value else []:
            if link.get("rel") != "next":
                continue
            url = urllib.parse.urlsplit(link.get("url", ""))
            if not url.path.startswith(self._path("/clients")):
                raise ParseError("clients", "a Link header points outside this network's clients")
            return url.path, dict(urllib.parse.parse_qsl(url.query))
        return None

    def get_sip_alg(self) -> bool | None:
        """None: the Dashboard API has no SIP ALG setting (M14)."""
        return None

    def read_state(self) -> DeviceState:
        """Rules, LAN and clients: one request each (plus the VLAN mode once per session)."""
        forwards = self.list_port_forwards()
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=None, forwards=forwards,
                           scope=self.get_dhcp_scope(), neighbours=self.list_neighbours())

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Rules and LAN read back after the last write (no clients)."""
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=None,
                           forwards=self.list_port_forwards(), scope=self.get_dhcp_scope())

    def backup(self) -> Backup:
        """The rule list and the fixed IP assignments, as JSON."""
        data: dict[str, Any] = {"rules": self._rules()}
        if self._uses_vlans():
            data["fixedIpAssignments"] = parse_fixed(self._get(self._lan_path(), "lan"), "lan")
        return Backup(self.name, "meraki-json", json.dumps(data, sort_keys=True), time.time())

    # --- writes -------------------------------------------------------------------------------------

    def _put_rules(self, base: list[dict[str, Any]], rules: list[dict[str, Any]], what: str) -> None:
        """PUT ``rules`` after re-reading the list: already ``rules`` → nothing to send; no longer ``base`` →
        refused, nothing sent (another admin or tool changed it, M6). A send whose answer was lost is settled by
        that same re-read before anything is sent again."""
        path = self._path("/appliance/firewall/portForwardingRules")
        self._fresh_rules = None
        answered: list[bool] = []

        def send() -> None:
            now = self._rules()
            if now == rules:
                answered.append(True)
                return
            if now != base:
                raise DeviceError(f"{what}: the port forwarding rules changed on the Dashboard since they were "
                                  f"read; nothing was sent (run again)", device_message="", host=self.host,
                                  driver=self.name)
            self._send("PUT", path, page="PUT portForwardingRules", body={"rules": rules})
            answered.append(True)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or self._rules() == rules, what=what)

    def _base_rules(self) -> list[dict[str, Any]]:
        if self._held is not None:
            return self._held
        cached, self._fresh_rules = self._fresh_rules, None
        return cached if cached is not None else self._rules()

    def _write_rules(self, base: list[dict[str, Any]], rules: list[dict[str, Any]], what: str) -> None:
        if self._held is not None:
            self._held = rules
            self._held_what.append(what)
            return
        self._put_rules(base, rules, what)

    def _add_port_forward(self, forward: PortForward) -> None:
        rule = forward_to_rule(forward)
        base = self._base_rules()
        if rule in base:
            return
        self._write_rules(base, [*copy.deepcopy(base), rule], f"add forward {forward.name}")

    def _remove_port_forward(self, forward: PortForward) -> None:
        base = self._base_rules()
        _, forwards = parse_rules({"rules": base}, "portForwardingRules")
        keep = [copy.deepcopy(r) for r, f in zip(base, forwards, strict=True) if f.key() != forward.key()]
        if len(keep) != len(base):
            self._write_rules(base, keep, f"remove forward {forward.name}")

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the rule changes of the block and send them as ONE PUT when it ends (re-read first, M6)."""
        if self._held is not None:
            yield
            return
        base = self._base_rules()
        self._held, self._held_base, self._held_what = copy.deepcopy(base), base, []
        try:
            yield
            rules, what = self._held, "; ".join(self._held_what)
        finally:
            self._held, self._held_base, self._held_what = None, None, []
        if rules != base:
            self._put_rules(base, rules, what)
        else:
            self._fresh_rules = base

    def _lan_fixed(self) -> dict[str, dict[str, Any]]:
        if not self._uses_vlans():
            raise self._unsupported("fixed IP assignments on a single-LAN network (M9)")
        return parse_fixed(self._get(self._lan_path(), "lan"), "lan")

    def _put_fixed(self, fixed: dict[str, dict[str, Any]], what: str) -> None:
        path = self._lan_path()
        answered: list[bool] = []

        def send() -> None:
            self._send("PUT", path, page="PUT vlan", body={"fixedIpAssignments": fixed})
            answered.append(True)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or self._lan_fixed() == fixed, what=what)

    def _reserve_address(self, reservation: Reservation) -> None:
        fixed = self._lan_fixed()
        entry = reservation_entry(reservation)
        key = next((k for k in fixed if k.lower() == reservation.mac), reservation.mac)
        if fixed.get(key) == entry:
            return
        if key in fixed:
            raise DeviceError(f"{reservation.mac} already has a fixed IP assignment", device_message=str(fixed[key]),
                              host=self.host, driver=self.name)
        self._put_fixed({**fixed, reservation.mac: entry}, f"reserve {reservation.address}")

    def _release_address(self, reservation: Reservation) -> None:
        fixed = self._lan_fixed()
        keep = {k: v for k, v in fixed.items()
                if (k.lower(), str(v.get("ip"))) != (reservation.mac, str(reservation.address))}
        if len(keep) != len(fixed):
            self._put_fixed(keep, f"release {reservation.address}")

    def _restore(self, backup: Backup) -> None:
        try:
            data = json.loads(backup.text)
            rules = data["rules"]
            fixed = data.get("fixedIpAssignments")
            if not isinstance(rules, list) or not (fixed is None or isinstance(fixed, dict)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise InvalidValue("backup", backup.format, "a backup taken by this driver") from None
        current = self._rules()
        if current != rules:
            self._put_rules(current, rules, "restore port forwarding rules")
        if fixed is not None and self._lan_fixed() != fixed:
            self._put_fixed(fixed, "restore fixed IP assignments")
