"""ASUSWRT (RT-AC/RT-AX, stock and Merlin) over its web API: ``login.cgi``, ``appGet.cgi``, ``applyapp.cgi``.

Facts: ``docs/facts/asuswrt.md``. One login per run (``asus_token`` cookie), one ``appGet.cgi`` request reads
everything, every write is a read-modify-write of nvram strings (``vts_rulelist`` for forwards,
``dhcp_staticlist``, and on Merlin before 386.4 ``dhcp_hostnames``, for the sink reservation) applied with the
service restart the GUI uses (``restart_firewall``/``restart_dnsmasq``), then ``restart_needed_time`` is waited
for.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, ClassVar

from routerfix.base.web import WebDriver
from routerfix.errors import (
    AuthenticationError,
    DeviceError,
    InvalidValue,
    ParseError,
    SessionError,
    UnsupportedOperation,
)
from routerfix.model import (
    AddressRange,
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
from routerfix.transport.http import Page, PageChecks

from .parser import (
    ERROR_STATUS,
    MAX_RULES,
    MAX_STATICLIST_CHARS,
    decode_nvram,
    format_static_entry,
    format_vts_rule,
    parse_appget,
    parse_clientlist,
    parse_hostnames,
    parse_staticlist,
    parse_vts_rulelist,
    rule_forwards,
    static_format,
    without_hostname,
)

__all__ = ["AsuswrtDriver"]

log = logging.getLogger("routerfix.drivers.asuswrt")

USER_AGENT = "asusrouter-Windows-DUTUtil-1.0"
"""The app-style User-Agent: httpd then answers JSON (``{"asus_token": …}``, ``{"error_status": …}``)."""
_FACT_KEYS = ("productid", "firmver", "buildno", "extendno", "lan_hostname")
_STATIC_KEYS = ("dhcp_static_x", "dhcp_staticlist", "dhcp_hostnames")
_SCOPE_KEYS = ("lan_ipaddr", "lan_netmask", "dhcp_enable_x", "dhcp_start", "dhcp_end", *_STATIC_KEYS)
_VTS_KEYS = ("vts_enable_x", "vts_rulelist")
_BACKUP_KEYS = _VTS_KEYS + _STATIC_KEYS
_OPTIONAL_BACKUP_KEYS = ("dhcp_static_x", "dhcp_hostnames")
"""Not in backups taken before this driver read them."""
_DORMANT_NOTE = ("manual DHCP assignment is switched off and the router holds reservations that switching it on "
                 "would activate: the sink is not reserved (switch it on in LAN > DHCP Server to let routerfix "
                 "reserve it)")


def _status(page: Page) -> str | None:
    text = page.text.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    value = data.get("error_status") if isinstance(data, dict) else None
    return str(value) if value is not None else None


class AsuswrtDriver(WebDriver):
    """ASUSWRT routers. Options: the HTTP options (``scheme``, ``tls_fingerprint``, ``verify_tls``, ``ca_file``,
    ``take_over_session``)."""

    name: ClassVar[str] = "asuswrt"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.NEIGHBOURS,
                            Feature.DHCP_RESERVATION, Feature.BACKUP}),
        max_forwards=MAX_RULES, forward_ranges=True, forward_both=True, orders_rules=True,
        notes=("ASUSWRT has no NAT filtering switch; SIP ALG is not managed by this driver",
               "connection tracking cannot be cleared from the web API: restarting the firewall drops the "
               "forwarding state but not established flows"))
    default_headers: ClassVar[Mapping[str, str]] = {"User-Agent": USER_AGENT}

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        self._nv: dict[str, str] = {}
        """nvram values read in this session. ASUSWRT admits one admin at a time, so within one session only
        this driver changes them: read-modify-write starts from here instead of another request."""

    # --- session ---------------------------------------------------------------------------------

    def _page_checks(self) -> PageChecks:
        return PageChecks(logged_out=lambda p: _status(p) in ("1", "2", "8"), other_admin=lambda p: _status(p) == "9")

    def _referer(self) -> dict[str, str]:
        return {"Referer": f"{self.http.base_url}/"}

    def _login(self) -> None:
        """Log in (one ``login.cgi`` request)."""
        if self.password is None:
            raise AuthenticationError("ASUSWRT needs a password", host=self.host, driver=self.name)
        cred = base64.b64encode(f"{self.username or 'admin'}:{self.password.reveal()}".encode()).decode()
        register(cred)
        page = self.http.post("/login.cgi", {"login_authorization": cred}, page="login.cgi",
                              headers=self._referer())
        try:
            data = parse_appget(page.text, "login.cgi")
        except ParseError:
            raise ParseError("login.cgi", "the login answer is not the JSON this driver knows (a firmware whose "
                                          "login changed?); nothing was changed", host=self.host,
                             driver=self.name) from None
        self._raise_for_status(data, "login.cgi")
        token = data.get("asus_token")
        if not isinstance(token, str) or not token:
            raise ParseError("login.cgi", "no asus_token in the login answer", host=self.host, driver=self.name)
        self.http.set_credentials(cookies={"asus_token": Secret(token)})
        self._nv.clear()  # a new session: someone else may have changed things in between

    def _logout(self) -> None:
        """Log out (``Logout.asp``)."""
        self.http.request("GET", "/Logout.asp", page="Logout.asp", headers=self._referer())

    def _raise_for_status(self, data: dict[str, Any], source: str) -> None:
        code = data.get("error_status")
        if code is None:
            return
        code = str(code)
        name = ERROR_STATUS.get(code, f"error {code}")
        if code == "3":
            raise AuthenticationError("the router refused the user name or password", host=self.host,
                                      driver=self.name)
        if code == "7":
            raise AuthenticationError(f"the router locked logins after failed attempts; try again in "
                                      f"{data.get('remaining_lock_time', '?')} s", host=self.host, driver=self.name)
        if code == "10":
            raise AuthenticationError("the router asks for a CAPTCHA: log in once in a browser, then retry",
                                      host=self.host, driver=self.name)
        if code == "9":
            raise SessionError("another admin is logged in to the router (ASUSWRT allows one); log them out or wait "
                               "for their session to end", host=self.host, driver=self.name)
        if code in ("1", "2", "8"):
            raise SessionError(f"{source}: the session ended ({name})", host=self.host, driver=self.name)
        raise DeviceError(f"{source}: the router refused the request", device_message=f"error_status {code} {name}",
                          host=self.host, driver=self.name)

    # --- reads -------------------------------------------------------------------------------------

    def _get(self, keys: tuple[str, ...], clients: bool = False) -> dict[str, Any]:
        hook = "".join(f"nvram_get({k});" for k in keys) + ("get_clientlist();" if clients else "")
        page = self.http.get("/appGet.cgi", page="appGet.cgi", params={"hook": hook}, headers=self._referer())
        data = parse_appget(page.text)
        self._raise_for_status(data, "appGet.cgi")
        for key in keys:
            if not isinstance(data.get(key), str):
                raise ParseError("appGet.cgi", f"no value for {key}", host=self.host, driver=self.name)
            data[key] = decode_nvram(data[key])
            self._nv[key] = data[key]
        return data

    def _current(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """nvram values for a read-modify-write: from this session's last read, else fetched."""
        if all(k in self._nv for k in keys):
            return {k: self._nv[k] for k in keys}
        return self._get(keys)

    def _facts(self, nv: dict[str, Any]) -> DeviceFacts:
        firmware = f"{nv['firmver']}.{nv['buildno']}" + (f"_{nv['extendno']}" if nv["extendno"] else "")
        return DeviceFacts("ASUS", nv["productid"] or "ASUSWRT router", firmware, nv["lan_hostname"])

    def _forwards(self, nv: dict[str, Any]) -> tuple[PortForward, ...]:
        enabled = nv["vts_enable_x"] == "1"
        rules = parse_vts_rulelist(nv["vts_rulelist"])
        return tuple(f for i, r in enumerate(rules) for f in rule_forwards(r, str(i), enabled=enabled))

    def _scope(self, nv: dict[str, Any]) -> DhcpScope:
        try:
            iface = ipaddress.IPv4Interface(f"{nv['lan_ipaddr']}/{nv['lan_netmask']}")
            pools = (AddressRange(nv["dhcp_start"], nv["dhcp_end"]),) if nv["dhcp_enable_x"] == "1" else ()
            names = parse_hostnames(nv["dhcp_hostnames"])
            reservations = tuple(Reservation(e.address, e.mac, e.name or names.get(e.mac, ""))
                                 for e in parse_staticlist(nv["dhcp_staticlist"]))
            return DhcpScope(iface.network, iface.ip, pools, reservations)
        except (ValueError, InvalidValue) as exc:
            raise ParseError("appGet.cgi", f"unreadable LAN/DHCP settings ({exc})", host=self.host,
                             driver=self.name) from None

    def _capabilities(self, nv: dict[str, Any]) -> Capabilities:
        """The class capabilities, without reservations while manual assignment is off with other reservations
        in the list: switching it on for the sink would activate them too (F15)."""
        if nv["dhcp_static_x"] == "1" or not parse_staticlist(nv["dhcp_staticlist"]):
            return self.capabilities
        return replace(self.capabilities,
                       features=self.capabilities.features - {Feature.DHCP_RESERVATION},
                       notes=(*self.capabilities.notes, _DORMANT_NOTE))

    def _neighbours(self, data: dict[str, Any]) -> tuple[Neighbour, ...]:
        return tuple(parse_clientlist(data.get("get_clientlist")))

    def facts(self) -> DeviceFacts:
        """Model (``productid``) and firmware (``firmver.buildno_extendno``)."""
        return self._facts(self._get(_FACT_KEYS))

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every ``vts_rulelist`` record (disabled when ``vts_enable_x`` is off); ``ref`` = record index."""
        return self._forwards(self._get(_VTS_KEYS))

    def get_dhcp_scope(self) -> DhcpScope:
        """LAN network, pool ``dhcp_start``-``dhcp_end`` and ``dhcp_staticlist`` reservations."""
        return self._scope(self._get(_SCOPE_KEYS))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """Online clients of ``get_clientlist()``."""
        return self._neighbours(self._get((), clients=True))

    def read_state(self) -> DeviceState:
        """Everything in one ``appGet.cgi`` request."""
        data = self._get(_FACT_KEYS + _SCOPE_KEYS + _VTS_KEYS, clients=True)
        return DeviceState(facts=self._facts(data), capabilities=self._capabilities(data),
                           forwards=self._forwards(data), scope=self._scope(data), neighbours=self._neighbours(data))

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (forwards and the DHCP reservations), read fresh in one ``appGet.cgi``
        after the last write, without the client list (neighbours are not compared)."""
        data = self._get(_FACT_KEYS + _SCOPE_KEYS + _VTS_KEYS)
        return DeviceState(facts=self._facts(data), capabilities=self._capabilities(data),
                           forwards=self._forwards(data), scope=self._scope(data))

    def backup(self) -> Backup:
        """The nvram values this driver changes, as JSON."""
        data = self._current(_BACKUP_KEYS)
        return Backup(self.name, "nvram-json", json.dumps({k: data[k] for k in _BACKUP_KEYS}), time.time())

    # --- writes ----------------------------------------------------------------------------------------

    def _apply(self, changes: dict[str, str], service: str, is_done: Callable[[], bool], what: str) -> None:
        """Send one ``applyapp.cgi`` write. The router's answer says whether it took the change (``modify=1``
        and the service it restarts); a clean answer is not read back here: the engine's verification reads
        everything back after the last write (one ``appGet.cgi``) and rolls back on a mismatch. Only a send
        that failed (transport fault, expired token) is settled by re-reading (``is_done``) before deciding
        whether to send again. The written keys are dropped from the session's nvram copy, so a later
        read-modify-write of the same value starts from a fresh read."""
        answer: dict[str, Any] = {}

        def send() -> None:
            body = {"action_mode": "apply", "rc_service": service, **changes}
            page = self.http.post("/applyapp.cgi", body, page="applyapp.cgi", headers=self._referer(),
                                  timeout=max(self.timeouts.read, self.timeouts.apply))
            data = parse_appget(page.text, "applyapp.cgi")
            self._raise_for_status(data, "applyapp.cgi")
            if str(data.get("modify")) != "1" or data.get("run_service") != service:
                raise DeviceError(f"{what}: the router did not take the change",
                                  device_message=f"modify={data.get('modify')!r} "
                                                 f"run_service={data.get('run_service')!r}",
                                  host=self.host, driver=self.name)
            answer.update(data)

        def settled() -> bool:
            return bool(answer) or is_done()

        try:
            self.http.guarded_write(send, is_done=settled, what=what)
        except BaseException:
            self._nv.clear()
            raise
        for key in changes:
            self._nv.pop(key, None)
        try:
            wait = float(answer.get("restart_needed_time", 0) or 0)
        except ValueError:
            wait = 5.0
        if wait > 0:
            time.sleep(min(wait, self.timeouts.apply))

    def _write_rulelist(self, rules: list[str], enable: str, what: str) -> None:
        value = "".join(rules)
        self._apply({"vts_enable_x": enable, "vts_rulelist": value}, "restart_firewall",
                    lambda: self._get(_VTS_KEYS)["vts_rulelist"] == value, what)

    def _add_port_forward(self, forward: PortForward) -> None:
        record = format_vts_rule(forward)
        nv = self._current(_VTS_KEYS)
        rules = parse_vts_rulelist(nv["vts_rulelist"])
        if any(r.raw == record for r in rules):
            return
        if len(rules) >= MAX_RULES:
            raise DeviceError("the virtual server list is full", device_message=f"{MAX_RULES} rules",
                              host=self.host, driver=self.name)
        if nv["vts_enable_x"] != "1" and rules:
            raise DeviceError(
                "port forwarding is switched off on this router and it holds other rules that switching it on "
                "would activate; remove or review them in the GUI first", device_message="vts_enable_x=0",
                host=self.host, driver=self.name)
        self._write_rulelist([record] + [r.raw for r in rules], "1", f"add forward {forward.name}")

    def _remove_port_forward(self, forward: PortForward) -> None:
        nv = self._current(_VTS_KEYS)
        rules = parse_vts_rulelist(nv["vts_rulelist"])
        keep, gone = [], 0
        for i, rule in enumerate(rules):
            parts = rule_forwards(rule, str(i))
            if any(p.key() == forward.key() for p in parts):
                if len(parts) > 1:
                    raise UnsupportedOperation(f"rule {rule.name!r} also forwards other ports; edit it in the GUI",
                                               host=self.host, driver=self.name)
                gone += 1
                continue
            keep.append(rule.raw)
        if not gone:
            return
        enable = nv["vts_enable_x"] if keep else "0"
        self._write_rulelist(keep, enable, f"remove forward {forward.name}")

    def _write_static(self, changes: dict[str, str], what: str) -> None:
        """One ``applyapp.cgi`` write of the reservation values in ``changes`` (F16: ``restart_dnsmasq``)."""
        for key in ("dhcp_staticlist", "dhcp_hostnames"):
            if len(changes.get(key, "")) > MAX_STATICLIST_CHARS:
                raise DeviceError(f"{what}: the reservation list would be longer than the router takes",
                                  device_message=f"{key} over {MAX_STATICLIST_CHARS} characters",
                                  host=self.host, driver=self.name)

        def done() -> bool:
            now = self._get(_STATIC_KEYS)
            return all(now[k] == v for k, v in changes.items())

        self._apply(changes, "restart_dnsmasq", done, what)

    def _reserve_address(self, reservation: Reservation) -> None:
        nv = self._current((*_STATIC_KEYS, "buildno"))
        entries = parse_staticlist(nv["dhcp_staticlist"])
        if any(e.mac == reservation.mac and e.address == reservation.address for e in entries):
            return
        clash = [e for e in entries if e.address == reservation.address or e.mac == reservation.mac]
        if clash:
            raise DeviceError("the address or MAC is already reserved", device_message=clash[0].raw,
                              host=self.host, driver=self.name)
        if nv["dhcp_static_x"] != "1" and entries:
            raise DeviceError(
                "manual DHCP assignment is switched off on this router and it holds other reservations that "
                "switching it on would activate; review them in the GUI (LAN > DHCP Server) first",
                device_message="dhcp_static_x=0", host=self.host, driver=self.name)
        record, hostname = format_static_entry(reservation, static_format(entries, nv["dhcp_hostnames"],
                                                                          nv["buildno"]))
        changes = {"dhcp_staticlist": nv["dhcp_staticlist"] + record}
        if hostname:
            changes["dhcp_hostnames"] = nv["dhcp_hostnames"] + hostname
        if nv["dhcp_static_x"] != "1":
            changes["dhcp_static_x"] = "1"  # F15: without it the reservation has no effect
        self._write_static(changes, f"reserve {reservation.address}")

    def _release_address(self, reservation: Reservation) -> None:
        nv = self._current(_STATIC_KEYS)
        entries = parse_staticlist(nv["dhcp_staticlist"])
        keep = [e.raw for e in entries if (e.mac, e.address) != (reservation.mac, reservation.address)]
        if len(keep) == len(entries):
            return
        changes = {"dhcp_staticlist": "".join(keep)}
        if reservation.mac in parse_hostnames(nv["dhcp_hostnames"]):
            changes["dhcp_hostnames"] = without_hostname(nv["dhcp_hostnames"], reservation.mac)
        if not keep and nv["dhcp_static_x"] == "1":
            changes["dhcp_static_x"] = "0"  # an empty list: back to the factory switch, as adding found it
        self._write_static(changes, f"release {reservation.address}")

    def _restore(self, backup: Backup) -> None:
        try:
            saved = json.loads(backup.text)
            values = {k: str(saved[k]) for k in _BACKUP_KEYS if k in saved or k not in _OPTIONAL_BACKUP_KEYS}
        except (ValueError, KeyError, TypeError):
            raise InvalidValue("backup", backup.format, "a backup taken by this driver") from None
        parse_vts_rulelist(values["vts_rulelist"])
        parse_staticlist(values["dhcp_staticlist"])
        parse_hostnames(values.get("dhcp_hostnames", ""))

        def done() -> bool:
            now = self._get(_BACKUP_KEYS)
            return all(now[k] == v for k, v in values.items())

        self._apply(values, "restart_firewall;restart_dnsmasq", done, "restore")

