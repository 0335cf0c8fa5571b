"""Simulated TP-Link routers on 127.0.0.1, plain HTTP: legacy ``/userRpm/`` firmware (TL-WR841N with the
Basic-auth header and 7-value virtual-server rows, TL-WR940N with the ``Authorization`` cookie, a session URL
prefix and 6-value rows; ``vs_width`` overrides the width) and an Archer C6 with the encrypted LuCI login
(detection only).

Follows ``docs/facts/tplink.md`` (row numbers in comments as ``T<n>``); it imports no driver code.

Knobs (attributes of :class:`TplinkRouter`): ``expire_on`` (the next matching request finds its session prefix
stale), ``login_changed`` (legacy pages without the data arrays), plus the HTTP faults of
:class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import secrets
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse, basic_challenge

__all__ = ["MODELS", "SIM_PASSWORD", "TplinkRouter", "VirtualServer", "simulate"]

SIM_PASSWORD = "tplink-Pa55"  # noqa: S105 - the simulator's own test credential
"""The admin password the simulator accepts by default."""
PER_PAGE = 8  # T5
MAX_VS = 32  # T17 (inferred)
MAX_RESERVATIONS = 16  # T17 (inferred)

MODELS: dict[str, dict[str, Any]] = {
    "wr841n": {"auth": "header", "hardware": "WR841N v9 00000000", "firmware": "3.16.9 Build 150310 Rel.54303n",
               "vs_width": 7},
    "wr940n": {"auth": "cookie", "hardware": "WR940N v4 00000000", "firmware": "3.16.9 Build 160617 Rel.59800n",
               "vs_width": 6},
    "archer-c6": {"auth": "luci", "hardware": "Archer C6 v3.20", "firmware": "1.1.6 Build 20220803 rel.35538",
                  "vs_width": 0},
}
"""Simulated models: how they authenticate and what they report."""

_NO_DNS = ".".join(["0"] * 4)  # "no DNS server" as the page shows it
_NO_AUTHORITY = "<html><body><center>You have no authority to access this router!</center></body></html>"


@dataclass
class VirtualServer:
    """One virtual-server row."""

    external: str
    internal: str
    ip: str
    protocol: int
    state: int


def _arr(name: str, values: list[Any]) -> str:
    items = ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in values)
    return f"var {name} = new Array(\n{items}{',' if items else ''}\n0,0 );\n"


def _page(title: str, *arrays: str, body: str = "") -> str:
    script = "".join(f"<SCRIPT language=\"javascript\" type=\"text/javascript\">\n{a}</SCRIPT>\n" for a in arrays)
    return f"<HTML><HEAD><TITLE>{title}</TITLE></HEAD>\n{script}<BODY>{body}</BODY></HTML>"


class TplinkRouter:
    """The device model: tables, sessions and the request handler."""

    def __init__(self, model: str = "wr841n", *, password: str = SIM_PASSWORD, scenario: str = "office",
                 vs_width: int | None = None) -> None:
        self.model = model
        self.spec = MODELS[model]
        self.vs_width = int(vs_width or self.spec["vs_width"])
        """Values per virtual-server row: 6 (T6) or 7 (T7)."""
        self.username, self.password = "admin", password
        self.lan_ip, self.netmask = "192.168.0.1", "255.255.255.0"
        self.pool = ("192.168.0.100", "192.168.0.199")
        self.leases = [("Polycom-VVX450", "00-04-F2-A1-B2-C3", "192.168.0.100", "01:23:45"),
                       ("SIP-T46S", "80-5E-C0-11-22-33", "192.168.0.101", "01:20:11"),
                       ("reception-pc", "3C-22-FB-44-55-66", "192.168.0.199", "00:59:02")]
        self.reservations: list[tuple[str, str, int]] = [("00-04-F2-A1-B2-C3", "192.168.0.100", 1)]
        self.vs: list[VirtualServer] = []
        if scenario == "rules":
            self.vs = [VirtualServer("443", "443", "192.168.0.20", 2, 1), VirtualServer("27015-27030", "",
                                                                                       "192.168.0.30", 1, 1)]
        elif scenario == "pbx":
            self.vs = [VirtualServer("5060", "5060", "192.168.0.10", 3, 1)]
        elif scenario == "many":
            self.vs = [VirtualServer(str(20000 + i), str(20000 + i), "192.168.0.20", 2, 1) for i in range(10)]
        self.prefix: str | None = None
        self.expire_on: str | None = None
        self.login_changed = False
        self.writes: list[str] = []
        """Every accepted change (``"vs add …"``, ``"vs del …"``, ``"res add …"``...)."""
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`)."""
        self.lock = threading.Lock()

    # --- auth ---

    def _cookie_value(self) -> str:
        digest = hashlib.md5(self.password.encode()).hexdigest()  # noqa: S324 - the firmware's own scheme
        return "Basic " + base64.b64encode(f"{self.username}:{digest}".encode()).decode()

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            auth = self.spec["auth"]
            if auth == "luci":
                return self._luci(req)
            if auth == "cookie":
                return self._cookie_mode(req)
            if req.basic_auth() != (self.username, self.password):
                return basic_challenge(f"TP-LINK Wireless N Router {self.model.upper()}")
            if not req.path.startswith("/userRpm/"):
                return SimResponse(200, "<HTML><FRAMESET><FRAME src='/userRpm/Index.htm'></FRAMESET></HTML>")
            return self._userrpm(req, req.path[len("/userRpm/"):], "")

    def _login_page(self) -> SimResponse:
        return SimResponse(200, "<HTML><HEAD><TITLE>TL-WR940N</TITLE><SCRIPT>function PCWin(event){"
                                "var auth = \"Basic \" + Base64Encoding(admin + \":\" + hex_md5(password));"
                                "document.cookie = \"Authorization=\" + escape(auth) + \";path=/\";"
                                "location.href = \"/userRpm/LoginRpm.htm?Save=Save\";}</SCRIPT></HEAD>"
                                "<BODY><FORM name='loginForm'><INPUT type='text' id='userName'>"
                                "<INPUT type='password' id='pcPassword'></FORM></BODY></HTML>")

    def _cookie_mode(self, req: SimRequest) -> SimResponse:
        cookie = req.cookies.get("Authorization", "").replace("%20", " ")
        if req.path == "/userRpm/LoginRpm.htm" and "Save=Save" in req.query:
            if cookie != self._cookie_value():
                return self._login_page()
            self.prefix = "".join(secrets.choice(string.ascii_uppercase) for _ in range(16))
            return SimResponse(200, f"<HTML><BODY><SCRIPT>window.parent.location.href = \"http://127.0.0.1/"
                                    f"{self.prefix}/userRpm/Index.htm\";</SCRIPT></BODY></HTML>")
        m = re.fullmatch(r"/([A-Z]{16})/userRpm/(.+)", req.path)
        if self.expire_on and self.expire_on in f"{req.method} {req.path}?{req.query}":
            self.expire_on = None
            self.prefix = None
        if m is None or m.group(1) != self.prefix or cookie != self._cookie_value():
            return self._login_page()
        if m.group(2) == "LogoutRpm.htm":
            self.prefix = None
            return self._login_page()
        return self._userrpm(req, m.group(2), f"/{self.prefix}")

    def _luci(self, req: SimRequest) -> SimResponse:
        if req.path == "/":
            return SimResponse(200, "<html><head><title>Opening...</title><script type='text/javascript' "
                                    "src='/webpages/js/su/su.js'></script></head><body></body></html>")
        if req.path.startswith("/cgi-bin/luci/;stok=/login") and req.method == "POST":
            form = req.query_params().get("form", "")
            if form == "keys" and req.form.get("operation") == "read":
                n = "D1E79FF135D14E342D76185C23024E6DEAD4D6EC2C317A526C811E83538EA4E5ED8E1B0EEE5CE26E3C1B6A5F1FE11FA8"
                return SimResponse(200, json.dumps({"success": True, "data": {"password": [n, "010001"],
                                                                                "mode": "router", "username": ""}}),
                                   content_type="application/json")
            if form == "auth" and req.form.get("operation") == "read":
                return SimResponse(200, json.dumps({"success": True, "data": {"key": ["C1D2", "010001"],
                                                                                "seq": 834251702}}),
                                   content_type="application/json")
            self.writes.append(f"luci {form}")
            return SimResponse(200, json.dumps({"success": False, "errorcode": "login failed"}),
                               content_type="application/json")
        self.writes.append(f"luci {req.method} {req.path}")
        return SimResponse(403, json.dumps({"success": False, "errorcode": "timeout"}), content_type="application/json")

    # --- pages ---

    def _userrpm(self, req: SimRequest, page: str, prefix: str) -> SimResponse:
        referer = req.headers.get("referer", "")
        if page not in ("Index.htm", "MenuRpm.htm") and not referer.endswith(f"{prefix}/userRpm/MenuRpm.htm") \
                and f"{prefix}/userRpm/" not in referer:
            return SimResponse(200, _NO_AUTHORITY)
        if self.login_changed and page != "LogoutRpm.htm":
            return SimResponse(200, "<HTML><BODY><div id='app'></div><script src='/js/app.js'></script></BODY></HTML>")
        q = req.query_params()
        if page in ("Index.htm", "MenuRpm.htm"):
            return SimResponse(200, _page("TL-" + self.model.upper(), body="menu"))
        if page == "StatusRpm.htm":
            return SimResponse(200, _page("Status", _arr("statusPara", [1, 1, 1, 22, 20000, 1234, self.spec["firmware"],
                                                                         self.spec["hardware"], 12345])))
        if page == "NetworkCfgRpm.htm":
            return SimResponse(200, _page("LAN", _arr("lanPara", ["50-C7-BF-01-02-03", self.lan_ip, 2, self.netmask,
                                                                   1])))
        if page == "LanDhcpServerRpm.htm":
            return SimResponse(200, _page("DHCP", _arr("DHCPPara", [1, self.pool[0], self.pool[1], 120, self.lan_ip,
                                                                     "", _NO_DNS, _NO_DNS, 0])))
        if page == "AssignedIpAddrListRpm.htm":
            flat = [v for lease in self.leases for v in lease]
            return SimResponse(200, _page("DHCP Clients", _arr("DHCPDynList", flat),
                                          _arr("DHCPDynPara", [len(self.leases), 4])))
        if page == "FixMapCfgRpm.htm":
            return self._reservations(q)
        if page == "VirtualServerRpm.htm":
            return self._virtual_servers(q)
        return SimResponse(404, "<HTML><BODY>404 Not Found</BODY></HTML>")

    @staticmethod
    def _error(code: str, text: str) -> SimResponse:
        return SimResponse(200, _page("Error", f'var errCode = "{code}";\n', body=f"<center>{text}</center>"))

    def _in_lan(self, ip: str) -> bool:
        try:
            addr = ipaddress.IPv4Address(ip)
        except ValueError:
            return False
        net = ipaddress.IPv4Network(f"{self.lan_ip}/{self.netmask}", strict=False)
        return addr in net and str(addr) != self.lan_ip and addr != net.broadcast_address

    @staticmethod
    def _paged(rows: list[list[Any]], page: int, width: int) -> tuple[list[Any], list[int]]:
        """One page of a table and its layout array: page, has-next, rows on the page, row width, rows per page
        (T5)."""
        count = max(1, (len(rows) + PER_PAGE - 1) // PER_PAGE)
        page = min(max(page, 1), count)
        chunk = rows[(page - 1) * PER_PAGE: page * PER_PAGE]
        return [v for row in chunk for v in row], [page, 1 if page < count else 0, len(chunk), width, PER_PAGE]

    def _vs_row(self, v: VirtualServer) -> list[Any]:
        """A virtual server as the page shows it: T6 (6 values) or T7 (7 values)."""
        lo, _, hi = v.external.partition("-")
        ext = [int(lo), int(hi or lo)]
        if self.vs_width == 7:
            inner = [int(v.internal)] * 2 if v.internal else ext
            return [*ext, *inner, v.ip, v.protocol, v.state]
        return [*ext, int(v.internal or 0), v.ip, v.protocol, v.state]

    def _page_no(self, q: dict[str, str]) -> int:
        try:
            return int(q.get("Page", "1"))
        except ValueError:
            return 1

    def _virtual_servers(self, q: dict[str, str]) -> SimResponse:
        if "Del" in q:
            try:
                del self.vs[int(q["Del"])]
                self.writes.append(f"vs del {q['Del']}")
            except (ValueError, IndexError):
                return self._error("25001", "The entry does not exist.")
        elif q.get("Save") == "Save":
            problem = self._vs_save(q)
            if problem:
                return problem
        flat, para = self._paged([self._vs_row(v) for v in self.vs], self._page_no(q), self.vs_width)
        return SimResponse(200, _page("Virtual Servers", _arr("virServerListPara", flat),
                                      _arr("virServerPara", para)))

    def _vs_save(self, q: dict[str, str]) -> SimResponse | None:
        ext, internal, ip = q.get("ExPort", ""), q.get("InPort", ""), q.get("Ip", "")
        m = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", ext)
        if m is None or not 1 <= int(m.group(1)) <= int(m.group(2) or m.group(1)) <= 65535:
            return self._error("25003", "The service port is invalid.")
        if internal and (not internal.isdigit() or not 1 <= int(internal) <= 65535 or m.group(2)):
            return self._error("25004", "The internal port is invalid.")
        if not self._in_lan(ip):
            return self._error("25005", "The IP address is invalid.")
        try:
            proto, state = int(q.get("Protocol", "")), int(q.get("State", ""))
        except ValueError:
            return self._error("25006", "Invalid protocol or status.")
        if proto not in (1, 2, 3) or state not in (0, 1) or q.get("Changed") not in ("0", "1"):
            return self._error("25006", "Invalid protocol or status.")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        changed = q.get("Changed") == "1"
        index = int(q.get("SelIndex", "0") or 0) if changed else -1
        for i, v in enumerate(self.vs):
            vlo, _, vhi = v.external.partition("-")
            if i != index and lo <= int(vhi or vlo) and int(vlo) <= hi and (proto == 1 or v.protocol in (1, proto)):
                return self._error("25002", "The service port conflicts with an existing entry.")
        row = VirtualServer(ext, internal, ip, proto, state)
        if changed:
            if not 0 <= index < len(self.vs):
                return self._error("25001", "The entry does not exist.")
            self.vs[index] = row
        else:
            if len(self.vs) >= MAX_VS:
                return self._error("25007", "The virtual server table is full.")
            self.vs.append(row)
        self.writes.append(f"vs {'edit' if changed else 'add'} {ext} {ip} {proto}")
        return None

    def _reservations(self, q: dict[str, str]) -> SimResponse:
        if "Del" in q:
            try:
                del self.reservations[int(q["Del"])]
                self.writes.append(f"res del {q['Del']}")
            except (ValueError, IndexError):
                return self._error("25001", "The entry does not exist.")
        elif q.get("Save") == "Save":
            mac, ip = q.get("Mac", "").upper(), q.get("Ip", "")
            if re.fullmatch(r"([0-9A-F]{2}-){5}[0-9A-F]{2}", mac) is None or not self._in_lan(ip):
                return self._error("26001", "The MAC or IP address is invalid.")
            if any(r[0] == mac or r[1] == ip for r in self.reservations):
                return self._error("26002", "The MAC or IP address is already reserved.")
            if len(self.reservations) >= MAX_RESERVATIONS:
                return self._error("26003", "The address reservation table is full.")
            self.reservations.append((mac, ip, 1 if q.get("State", "1") == "1" else 0))
            self.writes.append(f"res add {mac} {ip}")
        flat, para = self._paged([list(r) for r in self.reservations], self._page_no(q), 3)
        return SimResponse(200, _page("Address Reservation", _arr("dhcpList", flat), _arr("DHCPStaticPara", para)))


@contextmanager
def simulate(model: str = "wr841n", *, scenario: str = "office", password: str = SIM_PASSWORD,
             vs_width: int | None = None, **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated TP-Link router (``model`` one of :data:`MODELS`; ``vs_width`` 6 or 7 overrides the
    model's virtual-server row width) on 127.0.0.1 over plain HTTP."""
    router = TplinkRouter(model, password=password, scenario=scenario, vs_width=vs_width)
    with HttpSimulator(router.handle, tls=False, server_header="Router Webserver") as server:
        router.http = server
        yield SimulatedDevice(driver="tplink", host="127.0.0.1", port=server.port, username="admin",
                              password=password, options={"scheme": "http"},
                              description=f"TP-Link {MODELS[model]['hardware']} ({scenario}) at {server.url}",
                              handle=router)
