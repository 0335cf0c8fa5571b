"""A simulated ASUSWRT router on 127.0.0.1, over HTTPS, in two firmware eras: stock/Merlin 388 (RT-AX88U,
``dhcp_staticlist`` records ``<MAC>IP>DNS>name``) and Merlin 384 (RT-AC86U, ``<MAC>IP>DNS`` records with the
host names in ``dhcp_hostnames``).

Follows ``docs/facts/asuswrt.md`` (row numbers in comments as ``F<n>``); it imports no driver code.

Knobs (attributes of :class:`AsusRouter`): ``other_admin`` (logins answer error 9), ``expire_on`` (a substring of
``"METHOD /path"``: the next matching request finds every token expired), ``login_changed`` (a firmware whose
login is an HTML page the driver does not know), ``apply_seconds`` (``restart_needed_time``), ``ignore_services``
(``rc_service`` values whose writes are answered ``modify: "1"`` but not stored: a silently dropped change, for
testing that verification catches it), plus the HTTP faults of
:class:`routerfix.simulators._hosts.http.HttpSimulator` (status 500, garbled page, slow answer, dropped
connection) through ``handle.http``.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["ERAS", "SCENARIOS", "AsusRouter", "simulate"]

_APP_UA = "DUTUtil"  # F2
SIM_PASSWORD = "asus-Pa55"  # noqa: S105 - the simulator's own test credential
"""The admin password the simulator accepts by default."""
MAX_RULES = 64  # F9
_WRITABLE = frozenset({"vts_enable_x", "vts_rulelist", "dhcp_staticlist", "dhcp_static_x", "dhcp_hostnames"})
_PROTOCOLS = frozenset({"TCP", "UDP", "BOTH", "OTHER"})  # F8

ERAS: dict[str, dict[str, str]] = {
    # F12: four fields, the name in the record
    "388": {"productid": "RT-AX88U", "firmver": "3.0.0.4", "buildno": "388", "extendno": "24198",
            "lan_hostname": "RT-AX88U-5E20", "dhcp_staticlist": "<00:04:F2:A1:B2:C3>192.168.50.100>>",
            "dhcp_hostnames": ""},
    # F13/F14: Merlin 384, three fields, names in dhcp_hostnames
    "384": {"productid": "RT-AC86U", "firmver": "3.0.0.4", "buildno": "384.19", "extendno": "0",
            "lan_hostname": "RT-AC86U-1A40", "dhcp_staticlist": "<00:04:F2:A1:B2:C3>192.168.50.100>",
            "dhcp_hostnames": "<00:04:F2:A1:B2:C3>Polycom-VVX450"},
}
"""The two firmware eras: identity and the office's one reservation in that era's format."""

SCENARIOS: dict[str, dict[str, str]] = {
    "office": {},
    "rules": {"vts_enable_x": "1", "vts_rulelist": "<NAS https>443>192.168.50.20>>TCP><Game>3074>192.168.50.30>>BOTH>"},
    "pbx": {"vts_enable_x": "1", "vts_rulelist": "<PBX SIP>5060>192.168.50.10>>UDP>"},
    "dormant": {"vts_enable_x": "0", "vts_rulelist": "<old cam>8080>192.168.50.40>80>TCP>"},
    "full": {"vts_enable_x": "1",
             "vts_rulelist": "".join(f"<r{i}>{20000 + i}>192.168.50.20>>TCP>" for i in range(MAX_RULES))},
    # F5/F15: manual assignment off with nothing in the list (the factory state)
    "manual-off": {"dhcp_static_x": "0", "dhcp_staticlist": "", "dhcp_hostnames": ""},
}
"""Starting nvram (on top of the era's defaults) for the ``scenario`` knob."""


def _escape(value: str) -> str:
    return value.replace("<", "&#60").replace(">", "&#62")  # F6


def _records(value: str) -> list[list[str]]:
    """An nvram list (F7): ``<``-led records of ``>``-separated fields."""
    return [raw.split(">") for raw in value.split("<")[1:]] if value else []


def _valid_ports(text: str) -> bool:
    items = text.replace(":", ",").split(",")
    return all(i.isdigit() and 1 <= int(i) <= 65535 for i in items)


def _valid_ip(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 for p in parts)


def _vts_problem(value: str) -> str | None:
    """Why the GUI would never send this ``vts_rulelist`` (F8, F9), or None."""
    if value and not value.startswith("<"):
        return "no leading <"
    rules = _records(value)
    if len(rules) > MAX_RULES:
        return "too many rules"
    for fields in rules:
        if fields[-1] == "" and len(fields) == 7:
            fields = fields[:6]
        if len(fields) not in (5, 6) or fields[4].upper() not in _PROTOCOLS or not _valid_ip(fields[2]) or \
                not _valid_ports(fields[1]) or (fields[3] and not _valid_ports(fields[3])):
            return f"bad rule {fields!r}"
    return None


class AsusRouter:
    """The device model: nvram, clients, sessions and the request handler."""

    def __init__(self, *, username: str = "admin", password: str = SIM_PASSWORD, scenario: str = "office",
                 era: str = "388", apply_seconds: float = 0.0) -> None:
        self.username = username
        self.password = password
        self.era = era
        self.nvram: dict[str, str] = {  # F5, F15
            "lan_ipaddr": "192.168.50.1", "lan_netmask": "255.255.255.0", "dhcp_enable_x": "1",
            "dhcp_start": "192.168.50.2", "dhcp_end": "192.168.50.254", "dhcp_static_x": "1",
            "vts_enable_x": "0", "vts_rulelist": "", **ERAS[era],
        }
        self.nvram.update(SCENARIOS[scenario])
        self.clients: list[dict[str, str]] = [
            {"mac": "00:04:F2:A1:B2:C3", "ip": "192.168.50.100", "name": "Polycom-VVX450", "isOnline": "1"},
            {"mac": "80:5E:C0:11:22:33", "ip": "192.168.50.101", "name": "SIP-T46S", "isOnline": "1"},
            {"mac": "3C:22:FB:44:55:66", "ip": "192.168.50.102", "name": "reception-pc", "isOnline": "1"},
            {"mac": "00:80:77:12:34:56", "ip": "192.168.50.254", "name": "printer", "isOnline": "1"},
        ]
        self.tokens: set[str] = set()
        self.other_admin = False
        self.expire_on: str | None = None
        self.login_changed = False
        self.apply_seconds = apply_seconds
        self.ignore_services: set[str] = set()
        self.failed_logins = 0
        self.applied: list[tuple[str, dict[str, str]]] = []
        """Every accepted apply: (rc_service, nvram changes)."""
        self.logins = 0
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`), for HTTP faults and the request recorder."""
        self.lock = threading.Lock()

    # --- helpers ---

    @staticmethod
    def _json(data: dict[str, Any], status: int = 200) -> SimResponse:
        return SimResponse(status, json.dumps(data), content_type="application/json")

    def _error(self, code: str, **extra: str) -> SimResponse:
        return self._json({"error_status": code, **extra})

    def _authed(self, req: SimRequest) -> SimResponse | None:
        if self.expire_on and self.expire_on in f"{req.method} {req.path}":
            self.expire_on = None
            self.tokens.clear()
        token = req.cookies.get("asus_token")
        if not token:
            return self._error("1")
        if token not in self.tokens:
            return self._error("2")
        if _APP_UA not in req.headers.get("user-agent", "") and not req.headers.get("referer"):
            return self._error("5")
        return None

    def reservations(self) -> list[tuple[str, str, str]]:
        """The reservations dnsmasq is given, as (MAC, IP, name): none while manual assignment
        (``dhcp_static_x``) is off (F15); records in the era's format only (F12, F13, F14)."""
        if self.nvram.get("dhcp_static_x") != "1":
            return []
        names = {f[0].upper(): f[1] for f in _records(self.nvram.get("dhcp_hostnames", "")) if len(f) == 2}
        out = []
        for fields in _records(self.nvram["dhcp_staticlist"]):
            if self.era == "384" and len(fields) == 3:
                out.append((fields[0].upper(), fields[1], names.get(fields[0].upper(), "")))
            elif self.era != "384" and len(fields) == 4:
                out.append((fields[0].upper(), fields[1], fields[3]))
        return out

    # --- the handler ---

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            path = req.path
            if path == "/login.cgi" and req.method == "POST":
                return self._login(req)
            if path in ("/", "/Main_Login.asp"):
                return SimResponse(200, _LOGIN_PAGE)
            denied = self._authed(req)
            if path == "/Logout.asp":
                self.tokens.discard(req.cookies.get("asus_token", ""))
                return SimResponse(200, "<html><body>Logged out</body></html>")
            if denied is not None:
                return denied
            if path == "/appGet.cgi":
                hook = req.query_params().get("hook") or req.form.get("hook", "")
                return self._app_get(hook)
            if path == "/applyapp.cgi" and req.method == "POST":
                return self._apply(req)
            if path == "/start_apply.htm" and req.method == "POST":
                resp = self._apply(req)
                return SimResponse(200, "<html><script>parent.showLoading(5);</script></html>") \
                    if '"modify": "1"' in str(resp.body) else resp
            if path == "/Advanced_VirtualServer_Content.asp":
                return SimResponse(200, self._vs_page())
            return SimResponse(404, "<html><body>404 Not Found</body></html>")

    def _login(self, req: SimRequest) -> SimResponse:
        if self.login_changed:
            return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0; url=/Main_Login.asp'>"
                                    "</head><body>Please log in with the ASUS Router app.</body></html>")
        if self.failed_logins >= 5:
            return self._error("7", remaining_lock_time="60")
        raw = req.form.get("login_authorization")
        if raw is None:  # asusrouter URL-quotes the whole body
            raw = urllib.parse.parse_qs(urllib.parse.unquote(req.body.decode("utf-8", "replace"))).get(
                "login_authorization", [""])[0]
        try:
            user, _, password = base64.b64decode(raw, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            user, password = "", ""
        if (user, password) != (self.username, self.password):
            self.failed_logins += 1
            return self._error("3")
        if self.other_admin:
            return self._error("9")
        self.failed_logins = 0
        self.logins += 1
        token = secrets.token_hex(16)
        self.tokens = {token}  # one admin session: a new login replaces the old one
        if _APP_UA in req.headers.get("user-agent", ""):
            return self._json({"asus_token": token})
        return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0; url=/index.asp'></head></html>"
                           ).set_cookie("asus_token", token, http_only=True)

    def _app_get(self, hook: str) -> SimResponse:
        out: dict[str, Any] = {}
        for call in filter(None, (c.strip() for c in hook.split(";"))):
            if call.startswith("nvram_get(") and call.endswith(")"):
                key = call[len("nvram_get("):-1]
                out[key] = _escape(self.nvram.get(key, ""))
            elif call == "get_clientlist()":
                clients: dict[str, Any] = {"maclist": [c["mac"] for c in self.clients]}
                for c in self.clients:
                    clients[c["mac"]] = {"type": "0", "defaultType": "0", "name": c["name"], "nickName": "",
                                         "ip": c["ip"], "mac": c["mac"], "from": "networkmapd",
                                         "isOnline": c["isOnline"], "ipMethod": "DHCP"}
                out["get_clientlist"] = clients
        return self._json(out)

    def _apply(self, req: SimRequest) -> SimResponse:
        fields = dict(req.form)
        if not fields and req.body.strip().startswith((b"{", b"%7B")):
            try:
                loaded = json.loads(urllib.parse.unquote(req.body.decode("utf-8")))
                fields = {str(k): str(v) for k, v in loaded.items()}
            except (ValueError, UnicodeDecodeError, AttributeError):
                return SimResponse(400, "<html><body>400 Bad Request</body></html>")
        service = fields.get("rc_service") or fields.get("action_script", "")
        if fields.get("action_mode") != "apply":
            return self._json({"modify": "0", "run_service": ""})
        changes = {k: v for k, v in fields.items() if k in _WRITABLE}
        problem = _vts_problem(changes["vts_rulelist"]) if "vts_rulelist" in changes else None
        if problem is None and "dhcp_staticlist" in changes:
            value = changes["dhcp_staticlist"]
            if (value and not value.startswith("<")) or \
                    any(len(f) < 2 or not _valid_ip(f[1]) for f in _records(value)):
                problem = "bad reservation"
        if problem is not None:  # the device refuses what its GUI would not send
            return self._json({"modify": "0", "run_service": ""})
        if service in self.ignore_services:  # answered like a success, nothing stored
            return self._json({"modify": "1" if changes else "0", "run_service": service,
                               "restart_needed_time": f"{self.apply_seconds:g}"})
        self.nvram.update(changes)
        self.applied.append((service, changes))
        return self._json({"modify": "1" if changes else "0", "run_service": service,
                           "restart_needed_time": f"{self.apply_seconds:g}"})

    def _vs_page(self) -> str:
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in fields[:5]) + "</tr>"
                       for fields in _records(self.nvram["vts_rulelist"]))
        on, off = (" checked", "") if self.nvram["vts_enable_x"] == "1" else ("", " checked")
        return (
            "<html><head><title>ASUS Wireless Router - Virtual Server / Port Forwarding</title></head><body>"
            "<form method='post' name='form' action='/start_apply.htm' target='hidden_frame'>"
            "<input type='hidden' name='current_page' value='Advanced_VirtualServer_Content.asp'>"
            "<input type='hidden' name='next_page' value='Advanced_VirtualServer_Content.asp'>"
            "<input type='hidden' name='action_mode' value='apply'>"
            "<input type='hidden' name='action_script' value='restart_firewall'>"
            "<input type='hidden' name='action_wait' value='5'>"
            f"<input type='hidden' name='vts_rulelist' value='{html.escape(_escape(self.nvram['vts_rulelist']))}'>"
            f"<input type='radio' name='vts_enable_x' value='1'{on}>"
            f"<input type='radio' name='vts_enable_x' value='0'{off}>"
            f"<table id='vts_rulelist_table'>{rows}</table>"
            "<input class='button_gen' type='submit' value='Apply'></form></body></html>")


_LOGIN_PAGE = (
    "<html><head><title>ASUS Login</title></head><body>"
    "<form method='post' name='form' action='login.cgi'>"
    "<input type='hidden' name='group_id' value=''><input type='hidden' name='action_mode' value=''>"
    "<input type='hidden' name='action_script' value=''><input type='hidden' name='action_wait' value='5'>"
    "<input type='hidden' name='current_page' value='Main_Login.asp'>"
    "<input type='hidden' name='login_authorization' value=''>"
    "<input type='text' name='login_username'><input type='password' name='login_passwd'>"
    "<input type='hidden' name='login_captcha' value=''>"
    "<div class='button' onclick='login();'>Sign In</div></form></body></html>")


@contextmanager
def simulate(scenario: str = "office", *, era: str = "388", tls: bool = True, apply_seconds: float = 0.0,
             password: str = SIM_PASSWORD, **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated ASUSWRT router on 127.0.0.1; the yielded device's ``handle`` is the
    :class:`AsusRouter` (its ``http`` attribute is the :class:`HttpSimulator`, for faults and the recorder).
    ``era`` is one of :data:`ERAS`."""
    router = AsusRouter(scenario=scenario, era=era, apply_seconds=apply_seconds, password=password)
    with HttpSimulator(router.handle, tls=tls, server_header="httpd/2.0") as server:
        router.http = server
        options: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        yield SimulatedDevice(driver="asuswrt", host="127.0.0.1", port=server.port, username="admin",
                              password=password, options=options,
                              description=f"ASUSWRT {router.nvram['productid']} {era} ({scenario}) at {server.url}",
                              handle=router)
