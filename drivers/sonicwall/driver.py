"""SonicWall over the SonicOS API (``https://<fw>/api/sonicos/...``, JSON; facts ``docs/facts/sonicwall.md``, rows
``S<n>``).

Log-in is ``POST auth`` with HTTP Basic (S2); the session then lives in this driver's one HTTP session (S7) and
``DELETE auth`` ends it (S3). Every write lands in the session's *pending* configuration and takes effect only when
``POST config/pending`` commits it (S6): the driver commits once at the end of a :meth:`write_batch` (the engine
puts every step of a run in one) or of a lone write verb, and drops what is pending (``DELETE config/pending``)
when anything inside fails, so a failed change never reaches the running configuration. Verification reads back
after the commit.

A forward is four kinds of object (S9-S14): a host address object for the sink, service objects (one per
protocol, grouped when both), an inbound NAT policy from the WAN interface's address to the sink, and an access
rule from the WAN zone to the LAN zone (with SIP transformation off on it). They are added in that order and taken
out in the reverse order (an object a policy uses cannot go first, S23). The reservation is a DHCP static entry
(S16); SIP ALG is "Enable SIP Transformations" in the VoIP settings (S19). "Enable consistent NAT" is reported,
never changed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.enums import ActionKind
from routerfix.errors import (
    AuthenticationError,
    ConnectionDropped,
    DeviceError,
    InvalidValue,
    RouterfixError,
    SessionError,
)
from routerfix.model import (
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Protocol,
    Reservation,
    check_device_name,
)

from .api import (
    TABLE_KEYS,
    Path,
    Tables,
    dhcp_scope,
    forwards,
    leases,
    neighbours,
    parse_json,
    rows,
    scope_rows,
    status_of,
    voip_sip,
)

__all__ = ["SonicwallDriver"]

log = logging.getLogger("routerfix.drivers.sonicwall")

API = "/api/sonicos"
_ANSWERED = (200, 400, 403, 404)
"""Statuses whose body carries the status envelope (S4); 401 ends the session, 5xx is a transport fault."""
NO_NAT_MODE = ("SonicOS has no consumer 'NAT filtering' setting: unsolicited inbound traffic is dropped unless an "
               "access rule allows it; a forward is an inbound NAT policy plus a WAN-to-LAN access rule")
CONSISTENT_NAT = "'Enable consistent NAT' (VoIP settings) is reported, never changed"
NO_FLUSH = ("the SonicOS API can only flush every connection at once (S30): connection tracking is not cleared; a "
            "scanner already talking to a phone keeps reaching it until it pauses or its connection is deleted by hand")


class SonicwallDriver(WebDriver):
    """SonicWall firewalls with the SonicOS API enabled (SonicOS 6.5.4+, 7). ``username``/``password``: an admin
    account allowed to use the API (HTTP Basic, S2). Options: the HTTP options plus ``wan_interface`` (default
    ``X1``), ``wan_zone`` (``WAN``) and ``lan_zone`` (``LAN``)."""

    name: ClassVar[str] = "sonicwall"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.SIP_ALG}),
        max_forwards=None, forward_ranges=True, forward_both=True, orders_rules=False,
        notes=(NO_NAT_MODE, CONSISTENT_NAT, NO_FLUSH))
    batch_kinds = frozenset({ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD, ActionKind.RESERVE_ADDRESS,
                             ActionKind.RELEASE_ADDRESS, ActionKind.SET_SIP_ALG})
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"wan_interface", "wan_zone", "lan_zone"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "wan_interface": "the NAT policies' inbound interface, whose '<name> IP' object they match (default X1)",
        "wan_zone": "zone the access rules allow from (default WAN)",
        "lan_zone": "zone of the sink's address object and the access rules' destination (default LAN)",
    }

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key in ("wan_interface", "wan_zone", "lan_zone"):
            if self.options.get(key) is not None:
                check_device_name(self.options[key], key)
        self.wan: str = self.options.get("wan_interface") or "X1"
        self.wan_zone: str = self.options.get("wan_zone") or "WAN"
        self.lan_zone: str = self.options.get("lan_zone") or "LAN"
        self._version: dict[str, Any] = {}
        self._read: dict[Path, Any] = {}
        """Answers read since the last commit or discard; pending writes update them in place."""
        self._depth = 0
        self._dirty = False
        self._logins_at_start = 0

    # --- wire ---------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, page: str, body: Any = None) -> Any:
        """One request; the JSON answer when it carries no refusal. A refusal is a :class:`DeviceError` with the
        device's code and message (S4)."""
        data = None if body is None else json.dumps(body)
        headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data else {})}
        if method == "GET":
            result = self.http.get(f"{API}/{path}", page=page, headers=headers, ok_status=_ANSWERED)
        else:
            result = self.http.request(method, f"{API}/{path}", page=page, data=data, headers=headers,
                                       ok_status=_ANSWERED)
        answer = parse_json(result.text, page)
        status = status_of(answer)
        if result.status != 200 or (status is not None and not status.success):
            words = f"HTTP {result.status}" + (f", {status.code}: {status.message}" if status else "")
            raise DeviceError(f"{page} refused", device_message=words, host=self.host, driver=self.name)
        return answer

    def _get(self, path: Path) -> Any:
        if path not in self._read:
            self._read[path] = self._call("GET", str(path), str(path))
        return self._read[path]

    def _login(self) -> None:
        """``POST auth`` with HTTP Basic and ``override`` (S2); 401 is a refusal (never retried), 403
        ``E_DISABLED`` means the API is off (S5). Basic travels on that request only; the session carries on."""
        if not self.username or self.password is None:
            raise AuthenticationError("the SonicOS API needs an admin user name and password", host=self.host,
                                      driver=self.name)
        self.http.set_credentials(basic=(self.username, self.password))
        try:
            page = self.http.request("POST", f"{API}/{Path.AUTH}", page="auth", data=json.dumps({"override": True}),
                                     headers={"Accept": "application/json", "Content-Type": "application/json"},
                                     ok_status=(200, 403))
        finally:
            self.http.clear_credentials()
        status = status_of(parse_json(page.text, "auth"))
        if page.status == 403 or status is None or not status.success:
            code = status.code if status else f"HTTP {page.status}"
            if code == "E_DISABLED":
                raise DeviceError("the SonicOS API is disabled on this firewall: enable it in the management "
                                  "settings (SonicOS API, HTTP Basic authentication), then run again",
                                  device_message=code, host=self.host, driver=self.name)
            raise AuthenticationError(f"the firewall refused the log-in ({code})", host=self.host, driver=self.name)
        self._read.clear()

    def _logout(self) -> None:
        self.http.request("DELETE", f"{API}/{Path.AUTH}", page="logout", headers={"Accept": "application/json"},
                          ok_status=(200, 401))

    def _on_open(self) -> None:
        data = self._call("GET", str(Path.VERSION), str(Path.VERSION))
        self._version = data if isinstance(data, dict) else {}

    def _on_close(self) -> None:
        self._version = {}
        self._read.clear()
        self._depth = 0
        self._dirty = False

    # --- reads ----------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model and firmware from ``version`` (S20), read at log-in."""
        v = self._version
        model = v.get("model") if isinstance(v.get("model"), str) else ""
        firmware = v.get("firmware_version") if isinstance(v.get("firmware_version"), str) else ""
        return DeviceFacts("SonicWall", str(model)[:64] or "SonicWall", str(firmware)[:64], "")

    def _tables(self) -> Tables:
        return Tables(rows(self._get(Path.ADDRESSES), Path.ADDRESSES), rows(self._get(Path.SERVICES), Path.SERVICES),
                      rows(self._get(Path.GROUPS), Path.GROUPS), rows(self._get(Path.NAT), Path.NAT))

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Inbound NAT policies to one host (S12), ``ref`` their uuid."""
        return forwards(self._tables(), self.wan)

    def _static(self) -> list[dict[str, Any]]:
        return scope_rows(self._get(Path.STATIC), "static")

    def get_dhcp_scope(self) -> DhcpScope:
        """The dynamic range's network and the static entries in it (S15, S16)."""
        return dhcp_scope(scope_rows(self._get(Path.DYNAMIC), "dynamic"), self._static())

    def list_leases(self) -> tuple[Lease, ...]:
        return leases(self._get(Path.LEASES))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        return neighbours(self._get(Path.ARP))

    def get_sip_alg(self) -> bool | None:
        """"Enable SIP Transformations" (S19); "Enable consistent NAT" is logged, not changed."""
        sip, consistent = voip_sip(self._get(Path.VOIP))
        if consistent is not None:
            log.info("%s: consistent NAT is %s (left as it is)", self.host, "on" if consistent else "off")
        return sip

    def read_state(self) -> DeviceState:
        """Ten GETs: the four object tables, the access rules, both DHCP scope tables, leases, ARP, VoIP."""
        self._read.clear()
        self._get(Path.RULES)
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=self.get_sip_alg(),
                           forwards=self.list_port_forwards(), scope=self.get_dhcp_scope(),
                           leases=self.list_leases(), neighbours=self.list_neighbours())

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """Forwards, reservations and SIP ALG read afresh (no leases, no ARP)."""
        self._read.clear()
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=self.get_sip_alg(),
                           forwards=self.list_port_forwards(), scope=self.get_dhcp_scope())

    # --- the pending configuration --------------------------------------------------------------------

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Writes inside go to the pending configuration and are committed ONCE as the outermost block ends
        (S6). Anything failing inside drops what is pending (S6: ``DELETE config/pending``) and is re-raised: the
        running configuration is untouched. A session renewed in between (its pending changes are gone, S8) is
        reported as a dropped connection, never committed half."""
        if self._depth:
            yield
            return
        self._depth = 1
        self._logins_at_start = self.http.stats.logins
        try:
            yield
            if self._dirty:
                if self.http.stats.logins != self._logins_at_start:
                    raise ConnectionDropped("the SonicOS session was renewed while changes were pending; they were "
                                            "lost and nothing was committed", host=self.host, driver=self.name)
                self._call("POST", str(Path.PENDING), "commit", {})
        except BaseException:
            self._discard()
            raise
        finally:
            self._depth = 0
            self._dirty = False
            self._read.clear()

    def _discard(self) -> None:
        if not self._dirty:
            return
        try:
            self._call("DELETE", str(Path.PENDING), "discard pending")
        except RouterfixError as exc:
            log.warning("%s: could not drop the pending configuration (%s); it is never committed",
                        self.host, type(exc).__name__)

    def _write(self, method: str, path: str, body: Any, what: str) -> None:
        """One write to the pending configuration; a lost session (HTTP 401) is a dropped connection: what was
        pending went with it (S8, S25)."""
        self._dirty = True
        try:
            self._call(method, path, what, body)
        except SessionError as exc:
            raise ConnectionDropped(f"{what}: the SonicOS session ended ({exc}); nothing was committed",
                                    host=self.host, driver=self.name) from None

    def _add_row(self, path: Path, obj: dict[str, Any]) -> None:
        """POST one object (S9-S14) and keep this session's view of its table up to date."""
        key, inner = TABLE_KEYS[path]
        entry = {inner: obj} if inner else obj
        self._write("POST", str(path), {key: [entry]}, f"add {path} {obj.get('name', '')}")
        if isinstance(self._read.get(path), dict) and isinstance(self._read[path].get(key), list):
            self._read[path][key].append(json.loads(json.dumps(entry)))

    def _delete_row(self, path: Path, by: str, value: str) -> None:
        key, inner = TABLE_KEYS[path]
        self._write("DELETE", f"{path}/{by}/{_quote(value)}", None, f"delete {path} {value}")
        table = self._read[path][key] if isinstance(self._read.get(path), dict) else None
        if isinstance(table, list):
            table[:] = [e for e in table if _field(e, inner, by) != value]

    # --- writes ---------------------------------------------------------------------------------------

    def _objects(self, forward: PortForward) -> list[tuple[Path, dict[str, Any]]]:
        """What one forward is made of, in the order it is added (S9-S14)."""
        if forward.internal_ports is not None and forward.internal_ports != forward.external_ports:
            raise InvalidValue("internal_ports", str(forward.internal_ports),
                               "the external ports: routerfix does not remap ports on SonicOS")
        name, ports = forward.name, forward.external_ports
        protos = [Protocol.TCP, Protocol.UDP] if forward.protocol is Protocol.BOTH else [forward.protocol]
        out: list[tuple[Path, dict[str, Any]]] = [
            (Path.ADDRESSES, {"name": name, "zone": self.lan_zone, "host": {"ip": str(forward.internal_address)}})]
        for proto in protos:
            out.append((Path.SERVICES, {"name": f"{name}-{proto.value}",
                                        proto.value: {"begin": ports.start, "end": ports.end}}))
        if len(protos) == 2:
            out.append((Path.GROUPS, {"name": name, "service_object": [{"name": f"{name}-{p.value}"} for p in protos]}))
            service: dict[str, Any] = {"group": name}
        else:
            service = {"name": f"{name}-{protos[0].value}"}
        out.append((Path.NAT, {"name": name, "inbound": self.wan, "outbound": "any", "source": {"any": True},
                               "translated_source": {"original": True}, "destination": {"name": f"{self.wan} IP"},
                               "translated_destination": {"name": name}, "service": service,
                               "translated_service": {"original": True}, "enable": True, "reflexive": False,
                               "comment": "routerfix"}))
        out.append((Path.RULES, {"name": name, "from": self.wan_zone, "to": self.lan_zone, "action": "allow",
                                 "source": {"address": {"any": True}, "port": {"any": True}}, "service": service,
                                 "destination": {"address": {"name": name}}, "schedule": {"always_on": True},
                                 "enable": True, "sip": False, "comment": "routerfix"}))
        return out

    def _existing(self, path: Path, name: str) -> dict[str, Any] | None:
        return next((r for r in rows(self._get(path), path) if r.get("name") == name), None)

    def _add_port_forward(self, forward: PortForward) -> None:
        """Each missing object in order (S9-S14); an object of the same name with other content stops it
        before any write."""
        plan = self._objects(forward)
        todo = []
        for path, obj in plan:
            found = self._existing(path, obj["name"]) if path is not Path.RULES else next(
                (r for r in rows(self._get(path), path) if r.get("name") == obj["name"]
                 and r.get("destination") == obj["destination"]), None)
            if found is None:
                todo.append((path, obj))
            elif path in (Path.ADDRESSES, Path.SERVICES, Path.GROUPS) and not _same(found, obj):
                raise DeviceError(f"a {path} object named {obj['name']} already exists with other content",
                                  host=self.host, driver=self.name)
        with self.write_batch():
            for path, obj in todo:
                self._add_row(path, obj)

    def _remove_port_forward(self, forward: PortForward) -> None:
        """The NAT policy (and the access rules and objects routerfix named after it), newest first (S23)."""
        matches = [f for f in self.list_port_forwards() if f.key() == forward.key() and f.ref]
        if not matches:
            return
        with self.write_batch():
            for found in matches:
                name = found.name
                for rule in rows(self._get(Path.RULES), Path.RULES):
                    if rule.get("name") == name and rule.get("destination") == {"address": {"name": name}} \
                            and isinstance(rule.get("uuid"), str):
                        self._delete_row(Path.RULES, "uuid", rule["uuid"])
                self._delete_row(Path.NAT, "uuid", found.ref)
                if not name.startswith("routerfix"):
                    continue  # a forward routerfix did not make: its objects stay
                for path, obj in reversed(self._objects(_plain(found))[:-2]):
                    if self._existing(path, obj["name"]) is not None and not self._used(obj["name"], path):
                        self._delete_row(path, "name", obj["name"])

    def _used(self, name: str, path: Path) -> bool:
        """Whether a remaining NAT policy, access rule or group still names ``name``."""
        text = json.dumps([rows(self._get(Path.NAT), Path.NAT), rows(self._get(Path.RULES), Path.RULES)])
        if f'"name": {json.dumps(name)}' in text or f'"group": {json.dumps(name)}' in text:
            return True
        return path is Path.SERVICES and any(
            any(m.get("name") == name for m in g.get("service_object", []) if isinstance(m, dict))
            for g in rows(self._get(Path.GROUPS), Path.GROUPS))

    def _reserve_address(self, reservation: Reservation) -> None:
        """A DHCP static entry with the dynamic scope's netmask and gateway (S16)."""
        scope = self.get_dhcp_scope()
        if any(r.address == reservation.address and r.mac == reservation.mac for r in scope.reservations):
            return
        if any(r.address == reservation.address for r in scope.reservations):
            raise DeviceError(f"{reservation.address} is already reserved for another MAC", host=self.host,
                              driver=self.name)
        entry = {"ip": str(reservation.address), "mac": reservation.mac.replace(":", "").upper(),
                 "name": reservation.name or "routerfix", "enable": True, "netmask": str(scope.network.netmask),
                 "default_gateway": str(scope.gateway)}
        with self.write_batch():
            self._write("POST", str(Path.STATIC), {"dhcp_server": {"ipv4": {"scope": {"static": [entry]}}}},
                        f"reserve {reservation.address}")
            self._get(Path.STATIC)["dhcp_server"]["ipv4"]["scope"]["static"] = [*self._static(), entry]

    def _release_address(self, reservation: Reservation) -> None:
        for entry in self._static():
            ip, mac = entry.get("ip"), entry.get("mac")
            if not isinstance(ip, str) or not isinstance(mac, str):
                continue
            try:
                same = Reservation(ip, mac) == Reservation(reservation.address, reservation.mac)
            except InvalidValue:
                continue
            if same:
                with self.write_batch():
                    self._write("DELETE", f"{Path.STATIC}/ip/{_quote(ip)}/mac/{_quote(mac)}", None,
                                f"release {reservation.address}")
                    self._get(Path.STATIC)["dhcp_server"]["ipv4"]["scope"]["static"] = \
                        [e for e in self._static() if e is not entry]

    def _set_sip_alg(self, enabled: bool) -> None:
        """``PUT voip`` with ``sip.enable`` only (S19)."""
        with self.write_batch():
            self._write("PUT", str(Path.VOIP), {"voip": {"sip": {"enable": enabled}}},
                        f"SIP transformations {'on' if enabled else 'off'}")
            voip = self._read[Path.VOIP].get("voip") if isinstance(self._read.get(Path.VOIP), dict) else None
            if isinstance(voip, dict):
                voip["sip"] = {**(voip.get("sip") or {}), "enable": enabled}


def _field(entry: Any, inner: str, key: str) -> Any:
    """``entry[inner][key]`` (``entry[key]`` without ``inner``), None where the shape differs."""
    obj = entry.get(inner) if inner and isinstance(entry, dict) else entry
    return obj.get(key) if isinstance(obj, dict) else None


def _same(found: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether an existing object holds what routerfix would write (its uuid and fields it did not send aside)."""
    return all(found.get(k) == v for k, v in wanted.items())


def _plain(found: PortForward) -> PortForward:
    """``found`` as routerfix would have written it (for the names of its objects)."""
    return PortForward(found.name, found.protocol, found.external_ports, found.internal_address)


def _quote(value: str) -> str:
    """A name or address as one URL path segment (S21)."""
    return urllib.parse.quote(value, safe="")
