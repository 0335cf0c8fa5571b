"""A simulated UniFi Network application (a UniFi OS console or a classic controller) serving its site API over HTTPS
on 127.0.0.1.

Follows the fact table ``docs/facts/unifi.md`` (rows ``U<n>``), never the driver: it imports no driver code.

* ``GET /``: 200 with an ``x-csrf-token`` header on UniFi OS, a redirect on a classic controller (U2, U24);
  ``GET /status`` answers a classic controller's status record without credentials (U24).
* Log-in ``POST /api/auth/login`` (UniFi OS: cookie ``TOKEN`` and an ``x-csrf-token`` header) or ``POST /api/login``
  (classic: cookie ``unifises``) with JSON ``username``/``password`` (U3); wrong credentials: 401 (UniFi OS) or
  ``api.err.Invalid`` with 400 (classic) (U7); after 5 refused log-ins in a row, 429 (U8). Log-out
  ``POST /api/auth/logout`` / ``POST /logout`` (U9).
* Site API under ``/proxy/network/api/s/<site>/`` (UniFi OS) or ``/api/s/<site>/`` (classic) (U1): answers
  ``{"meta": {"rc": ...}, "data": [...]}`` (U5); no session cookie: 401 ``api.err.LoginRequired`` (U6); a UniFi OS
  write without the CSRF token: 403 (U4); an unknown site: ``api.err.NoSiteContext`` (U19). Routes: every row of
  :data:`ROUTES` (the route table of the facts): ``stat/sysinfo`` (U18), ``rest/portforward`` GET/POST,
  ``rest/portforward/<_id>`` PUT/DELETE (U10-U13), ``rest/networkconf`` (U17), ``rest/user`` (U15), ``stat/sta``
  (U14). Records have the shape of aiounifi's recorded answers (checked by the tests).

Knobs (attributes of :class:`UnifiController`): ``platform`` (``"unifi_os"`` or ``"classic"``), ``site``,
``refuse`` (``"POST rest/portforward"``-style keys answered ``api.err.InvalidPayload``),
:meth:`UnifiController.expire_token_after` (every session ends after n more requests: the next gets 401), plus the
HTTP faults of :class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["ROUTES", "SIM_PASSWORD", "SIM_USER", "UnifiController", "simulate"]

SIM_USER = "routerfix-admin"
SIM_PASSWORD = "Sim-unifi-local-admin-0000"  # noqa: S105 - simulator credential
SITE_ID = "5a32aa4ee4b0412345678910"
LAN_ID = "5a32aa4ee4b047ede36a85a8"

ROUTES: dict[str, tuple[str, ...]] = {
    "stat/sysinfo": ("GET",),
    "rest/portforward": ("GET", "POST"),
    "rest/portforward/<_id>": ("PUT", "DELETE"),
    "rest/networkconf": ("GET",),
    "rest/user": ("GET",),
    "stat/sta": ("GET",),
}
"""Every site route served (the route table of the facts) → methods."""
_PROTOS = frozenset({"tcp", "udp", "tcp_udp"})
_INTERFACES = frozenset({"wan", "wan2", "both"})
_PORT = re.compile(r"^\d{1,5}(-\d{1,5})?$")
_FORWARD_KEYS = ("name", "enabled", "src", "dst_port", "fwd", "fwd_port", "proto", "pfwd_interface")
MAX_FAILED_LOGINS = 5


def _oid(n: int) -> str:
    """A Mongo-style object id, like the records' ``_id``."""
    return f"6{n:023x}"


def _forward(n: int, name: str, proto: str, port: str, target: str) -> dict[str, Any]:
    return {"_id": _oid(n), "dst_port": port, "enabled": True, "fwd_port": port, "fwd": target, "name": name,
            "pfwd_interface": "wan", "proto": proto, "site_id": SITE_ID, "src": "any"}


SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "office": [_forward(1, "NAS web", "tcp", "443", "10.50.0.20")],
    "empty": [],
    "pbx": [_forward(2, "PBX SIP", "udp", "5060", "10.50.0.10")],
}
"""Starting port forwards for the ``scenario`` knob."""


def _user(n: int, mac: str, name: str, hostname: str, fixed: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"_id": _oid(100 + n), "mac": mac, "name": name, "hostname": hostname,
                              "is_wired": False, "network_id": LAN_ID, "site_id": SITE_ID,
                              "use_fixedip": fixed is not None, "fixed_ip": fixed or ""}
    return record


def _client(user: dict[str, Any], ip: str, wired: bool) -> dict[str, Any]:
    return {"_id": user["_id"], "hostname": user["hostname"], "ip": ip, "is_wired": wired, "mac": user["mac"],
            "name": user["name"], "network": "LAN", "network_id": LAN_ID, "site_id": SITE_ID, "user_id": user["_id"]}


class UnifiController:
    """The device model (one site's port forwards, networks and clients) and the request handler."""

    def __init__(self, *, scenario: str = "office", platform: str = "unifi_os", site: str = "default",
                 username: str = SIM_USER, password: str = SIM_PASSWORD) -> None:
        if platform not in ("unifi_os", "classic"):
            raise ValueError(f"unknown platform {platform!r}")
        self.platform, self.site, self.username, self.password = platform, site, username, password
        self.forwards: list[dict[str, Any]] = copy.deepcopy(SCENARIOS[scenario])
        self.networks: list[dict[str, Any]] = [
            {"_id": LAN_ID, "attr_hidden_id": "LAN", "attr_no_delete": True, "dhcpd_enabled": True,
             "dhcpd_start": "10.50.0.6", "dhcpd_stop": "10.50.0.254", "enabled": True, "ip_subnet": "10.50.0.1/24",
             "is_nat": True, "name": "Default", "networkgroup": "LAN", "purpose": "corporate", "site_id": SITE_ID,
             "vlan_enabled": False},
            {"_id": _oid(900), "dhcpd_enabled": True, "dhcpd_start": "10.60.0.6", "dhcpd_stop": "10.60.0.254",
             "enabled": True, "ip_subnet": "10.60.0.1/24", "is_nat": True, "name": "Guests", "networkgroup": "LAN",
             "purpose": "guest", "site_id": SITE_ID, "vlan": 60, "vlan_enabled": True}]
        phone = _user(1, "80:5e:c0:11:22:33", "Front desk phone", "SIP-T46S", "10.50.0.254")
        laptop = _user(2, "3c:22:fb:44:55:66", "", "laptop", None)
        printer = _user(3, "00:1b:a9:77:88:99", "Printer", "printer", "10.50.0.253")  # offline, fixed IP
        self.users = [phone, laptop, printer]
        self.clients = [_client(phone, "10.50.0.254", True), _client(laptop, "10.50.0.252", False)]
        self.sessions: dict[str, str] = {}
        """Session cookie value → its CSRF token."""
        self.failed_logins = 0
        self.refuse: set[str] = set()
        self.writes: list[str] = []
        """Every accepted write, ``METHOD route``, in order."""
        self._expire_in: int | None = None
        self._next = 1000
        self.http: HttpSimulator | None = None
        self.lock = threading.Lock()
        self._start = copy.deepcopy((self.forwards, self.networks, self.users, self.clients))

    def reset(self) -> None:
        """Back to the starting configuration: no sessions, refusals, faults or recorded requests."""
        with self.lock:
            self.forwards, self.networks, self.users, self.clients = copy.deepcopy(self._start)
            self.sessions.clear()
            self.refuse.clear()
            self.writes.clear()
            self.failed_logins, self._expire_in = 0, None
        if self.http is not None:
            self.http.clear_faults()
            self.http.clear_requests()

    @property
    def unifi_os(self) -> bool:
        return self.platform == "unifi_os"

    @property
    def cookie(self) -> str:
        return "TOKEN" if self.unifi_os else "unifises"

    def expire_token_after(self, n: int) -> None:
        """Every session ends after ``n`` more requests: request ``n + 1`` from now gets 401 (U6)."""
        with self.lock:
            self._expire_in = n

    def snapshot(self) -> str:
        """The site's configuration (forwards without their ids, networks, clients' fixed IPs) as JSON."""
        forwards = sorted(({k: v for k, v in f.items() if k != "_id"} for f in self.forwards),
                          key=lambda f: json.dumps(f, sort_keys=True))
        return json.dumps({"forwards": forwards, "networks": self.networks, "users": self.users}, sort_keys=True)

    # --- handler ---

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if self._expire_in is not None:
                if self._expire_in == 0:
                    self.sessions.clear()
                    self._expire_in = None
                else:
                    self._expire_in -= 1
            return self._handle(req)

    def _handle(self, req: SimRequest) -> SimResponse:
        login, logout = ("/api/auth/login", "/api/auth/logout") if self.unifi_os else ("/api/login", "/logout")
        if req.path == "/" and req.method == "GET":
            if self.unifi_os:
                return SimResponse(200, "<!DOCTYPE html><html><head><title>UniFi OS</title></head>"
                                        "<body><div id=\"root\"></div></body></html>").header(
                    "x-csrf-token", secrets.token_hex(16))
            return SimResponse(302, "").header("Location", "/manage")
        if req.path == "/status" and req.method == "GET" and not self.unifi_os:
            return self._json({"meta": {"rc": "ok"}, "data": []})
        if req.path == login and req.method == "POST":
            return self._login(req)
        if req.path == logout and req.method == "POST":
            self.sessions.pop(req.cookies.get(self.cookie, ""), None)
            return self._json({"meta": {"rc": "ok"}, "data": []})
        prefix = "/proxy/network/api/s/" if self.unifi_os else "/api/s/"
        if not req.path.startswith(prefix):
            return SimResponse(404, "<html><body>Not Found</body></html>")
        session = req.cookies.get(self.cookie, "")
        if session not in self.sessions:
            return self._error("api.err.LoginRequired", 401)
        if self.unifi_os and req.method != "GET" and req.headers.get("x-csrf-token") != self.sessions[session]:
            return self._json({"message": "Invalid CSRF Token"}, 403)
        site, _, rest = req.path[len(prefix):].partition("/")
        if site != self.site:
            return self._error("api.err.NoSiteContext")
        return self._site(req, rest.strip("/"))

    def _login(self, req: SimRequest) -> SimResponse:
        if self.failed_logins >= MAX_FAILED_LOGINS:
            return self._json({"code": "AUTHENTICATION_FAILED_LIMIT_REACHED", "message": "Too many failed logins"},
                              429)
        try:
            body = json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            body = {}
        if not isinstance(body, dict) or (body.get("username"), body.get("password")) != (self.username,
                                                                                        self.password):
            self.failed_logins += 1
            if self.unifi_os:
                return self._json({"code": "AUTHENTICATION_FAILED_INVALID_CREDENTIALS"}, 401)
            return self._error("api.err.Invalid")
        self.failed_logins = 0
        token, csrf = secrets.token_urlsafe(24), secrets.token_hex(16)
        self.sessions[token] = csrf
        if self.unifi_os:
            resp = self._json({"username": self.username, "isOwner": False})
            resp.header("x-csrf-token", csrf)
        else:
            resp = self._json({"meta": {"rc": "ok"}, "data": []})
        return resp.set_cookie(self.cookie, token, http_only=True)

    def _site(self, req: SimRequest, rest: str) -> SimResponse:
        parts = rest.split("/")
        route = "/".join(parts[:2])
        item = parts[2] if len(parts) > 2 else ""
        key = f"{route}/<_id>" if item else route
        if key not in ROUTES or req.method not in ROUTES[key] or len(parts) > 3:
            return self._error("api.err.NotFound", 404)
        if f"{req.method} {route}" in self.refuse:
            return self._error("api.err.InvalidPayload")
        match (req.method, route):
            case ("GET", "stat/sysinfo"):
                return self._ok([{"build": "atag_9.5.21_30012", "hostname": "UCG-Office", "name": "UCG-Office",
                                  "ubnt_device_type": "UCGULTRA" if self.unifi_os else "UGW3",
                                  "udm_version": "4.3.6" if self.unifi_os else "", "version": "9.5.21"}])
            case ("GET", "rest/portforward"):
                return self._ok(self.forwards)
            case ("POST", "rest/portforward"):
                return self._add_forward(req)
            case ("PUT", "rest/portforward"):
                return self._put_forward(req, item)
            case ("DELETE", "rest/portforward"):
                for i, f in enumerate(self.forwards):
                    if f["_id"] == item:
                        del self.forwards[i]
                        self.writes.append("DELETE rest/portforward")
                        return self._ok([])
                return self._error("api.err.IdInvalid")
            case ("GET", "rest/networkconf"):
                return self._ok(self.networks)
            case ("GET", "rest/user"):
                return self._ok(self.users)
            case ("GET", "stat/sta"):
                return self._ok(self.clients)
        return self._error("api.err.NotFound", 404)

    @staticmethod
    def _invalid(record: Any) -> bool:
        """A record the application would refuse (U10-U13)."""
        if not isinstance(record, dict) or not isinstance(record.get("name"), str) or not record["name"]:
            return True
        if record.get("proto") not in _PROTOS or record.get("pfwd_interface", "wan") not in _INTERFACES:
            return True
        for field in ("dst_port", "fwd_port"):
            value = str(record.get(field, ""))
            if not _PORT.match(value) or any(not 0 < int(p) < 65536 for p in value.split("-")):
                return True
        try:
            ipaddress.IPv4Address(str(record.get("fwd", "")))
        except ValueError:
            return True
        return not isinstance(record.get("enabled", True), bool)

    def _record(self, req: SimRequest) -> Any:
        try:
            return json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return None

    def _add_forward(self, req: SimRequest) -> SimResponse:
        record = self._record(req)
        if self._invalid(record):
            return self._error("api.err.InvalidPayload")
        self._next += 1
        new = {"_id": _oid(self._next), "site_id": SITE_ID, "enabled": True, "src": "any", "pfwd_interface": "wan"}
        new.update({k: record[k] for k in _FORWARD_KEYS if k in record})
        self.forwards.append(new)
        self.writes.append("POST rest/portforward")
        return self._ok([new])

    def _put_forward(self, req: SimRequest, item: str) -> SimResponse:
        record = self._record(req)
        found = next((f for f in self.forwards if f["_id"] == item), None)
        if found is None:
            return self._error("api.err.IdInvalid")
        if self._invalid({**found, **(record if isinstance(record, dict) else {"name": ""})}):
            return self._error("api.err.InvalidPayload")
        found.update({k: record[k] for k in _FORWARD_KEYS if k in record})
        self.writes.append("PUT rest/portforward")
        return self._ok([found])

    # --- answers ---

    @staticmethod
    def _json(data: Any, status: int = 200) -> SimResponse:
        return SimResponse(status, json.dumps(data), content_type="application/json;charset=UTF-8")

    def _ok(self, data: list[dict[str, Any]]) -> SimResponse:
        return self._json({"meta": {"rc": "ok"}, "data": copy.deepcopy(data)})

    def _error(self, msg: str, status: int = 400) -> SimResponse:
        return self._json({"meta": {"rc": "error", "msg": msg}, "data": []}, status)


@contextmanager
def simulate(scenario: str = "office", *, platform: str = "unifi_os", site: str = "default", tls: bool = True,
             password: str = SIM_PASSWORD, **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated UniFi Network application on 127.0.0.1 (HTTPS with a self-signed certificate, pinned by
    fingerprint); ``platform`` ``unifi_os`` (a console) or ``classic`` (a self-hosted controller)."""
    controller = UnifiController(scenario=scenario, platform=platform, site=site, password=password)
    with HttpSimulator(controller.handle, tls=tls, server_header="") as server:
        controller.http = server
        options: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        if site != "default":
            options["site"] = site
        kind = "UniFi OS console" if controller.unifi_os else "classic UniFi controller"
        yield SimulatedDevice(driver="unifi", host="127.0.0.1", port=server.port, username=SIM_USER,
                              password=password, options=options,
                              description=f"{kind} (site {site}, {scenario}) at {server.url}", handle=controller)
