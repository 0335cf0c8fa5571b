"""A simulated AT&T BGW320-505 (or BGW210-700) residential gateway on 127.0.0.1, plain HTTP.

Follows the fact table ``docs/facts/att.md`` (rows ``A<n>``), never the driver: it imports no driver code.

* Pages under ``/cgi-bin/*.ha``; ``sysinfo.ha``, ``home.ha``, ``broadbandstatistics.ha``, ``firewall.ha`` need no
  login; ``ippass.ha``, ``apphosting.ha``, ``services.ha``, ``dhcpserver.ha``, ``restart.ha`` need the Device Access
  Code (A1, A2).
* ``sysinfo.ha``: one ``table60`` table, rows Manufacturer, Model Number, Serial Number, Software Version, MAC
  Address, label cell then value cell (A3); whether the label cell is ``th`` or ``td`` is the ``label_cell`` knob
  (A4, inferred).
* Login: a protected page → ``Set-Cookie: SessionID=…`` and the "Access Code Required" page with a hidden
  ``nonce``; ``POST /cgi-bin/login.ha`` with ``nonce``, ``password`` (``*`` × length), ``hashpassword=md5(code +
  nonce)``, ``Continue=Continue`` (A5, A6). A POST without a plausible ``Referer`` gets a bare 400 (A7, inferred).
* Every form POST carries the nonce of the page it came from; a POST answers a small meta-refresh page, so the
  client verifies by re-reading; errors appear in ``<div id="error-message-text">`` (A8, A9).
* IP Passthrough (``ippass.ha``): selects ``allocmode`` and ``passmode``, ``ippassmaclist`` (empty = manual entry),
  ``passmac``, ``dhcpday``/``dhcphour``/``dhcpmin``/``dhcpsec``, ``Save=Save`` (A10, A11).
* Port forwarding is bound to a device picked from the gateway's device list (``apphosting.ha``, A12): the reason
  routerfix's verdict is bridge mode / IP Passthrough. ``services.ha``/``apphosting.ha`` only record attempts.
* Logout ``/cgi-bin/logout.ha``; one nonce per page view, the previous one is invalidated (A13, inferred).

Knobs (attributes of :class:`AttGateway`): ``label_cell``, ``login_changed`` (the login form lacks ``nonce``, as
on firmware with another login), ``expire_on`` (the next matching request finds its session expired), plus the
HTTP faults of :class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["SIM_ACCESS_CODE", "AttGateway", "simulate"]

SIM_ACCESS_CODE = "7#5$1@9&2!"  # the simulator's own test credential (a sticker code)
"""The Device Access Code the simulator accepts."""
_PUBLIC = frozenset({"sysinfo.ha", "home.ha", "broadbandstatistics.ha", "firewall.ha"})
_PROTECTED = frozenset({"ippass.ha", "apphosting.ha", "services.ha", "dhcpserver.ha", "restart.ha"})
_BAD = SimResponse(400, "Bad Request", content_type="text/plain")


def _shell(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><div id='header'>AT&amp;T</div>"
            f"<div id='content'>{body}</div></body></html>")


class AttGateway:
    """The device model: sessions with nonces, IP Passthrough settings and a known-device list."""

    def __init__(self, *, model: str = "BGW320-505", access_code: str = SIM_ACCESS_CODE) -> None:
        self.model = model
        self.access_code = access_code
        self.software = "4.27.7" if model.startswith("BGW320") else "3.18.2"
        self.sessions: dict[str, bool] = {}
        """SessionID → logged in."""
        self.nonces: dict[str, str] = {}
        """SessionID → the nonce of the last page shown."""
        self.allocmode = "default"
        self.passmode = "dhcps-first"
        self.passmac = ""
        self.lease = {"dhcpday": "0", "dhcphour": "0", "dhcpmin": "10", "dhcpsec": "0"}
        self.devices = [("00:04:f2:a1:b2:c3", "Polycom-VVX450", "192.168.1.64"),
                        ("3c:22:fb:44:55:66", "reception-pc", "192.168.1.65")]
        self.label_cell = "th"
        """The element of ``sysinfo.ha``'s label cells, ``th`` or ``td`` (A4)."""
        self.login_changed = False
        self.expire_on: str | None = None
        self.writes: list[str] = []
        """Every accepted POST other than the login (``"ippass …"``, ``"services …"``)."""
        self.logins = 0
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`)."""
        self.lock = threading.Lock()

    def _nonce(self, sid: str) -> str:
        self.nonces[sid] = secrets.token_hex(16)
        return self.nonces[sid]

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            m = re.fullmatch(r"/cgi-bin/([a-z]+\.ha)", req.path)
            if req.path == "/":
                return SimResponse(302, "").header("Location", "/cgi-bin/home.ha")
            if m is None:
                return SimResponse(404, _shell("Not Found", "Not Found"))
            page = m.group(1)
            if page == "sysinfo.ha":
                return SimResponse(200, self._sysinfo())
            if page in _PUBLIC:
                return SimResponse(200, _shell(page, f"<h1>{page}</h1>"))
            sid = req.cookies.get("SessionID", "")
            if self.expire_on and self.expire_on in f"{req.method} {req.path}":
                self.expire_on = None
                self.sessions.clear()
            if page == "login.ha" and req.method == "POST":
                return self._login(req, sid)
            if page == "logout.ha":
                self.sessions.pop(sid, None)
                return SimResponse(200, _shell("Logged out", "You are logged out."))
            if page not in _PROTECTED:
                return SimResponse(404, _shell("Not Found", "Not Found"))
            if sid and not req.headers.get("referer", "").startswith(("http://127.0.0.1", "https://127.0.0.1")) \
                    and req.method == "POST":
                return _BAD
            if sid not in self.sessions:
                new = secrets.token_hex(12)
                self.sessions[new] = False
                return SimResponse(200, self._login_page(new)).set_cookie("SessionID", new)
            if not self.sessions[sid]:
                return SimResponse(200, self._login_page(sid))
            if req.method == "POST":
                return self._post(req, sid, page)
            if page == "ippass.ha":
                return SimResponse(200, self._ippass(sid))
            nonce = self._nonce(sid)
            return SimResponse(200, _shell(page, f"<form method='post' action='/cgi-bin/{page}'>"
                                                 f"<input type='hidden' name='nonce' value='{nonce}'></form>"))

    def _sysinfo(self) -> str:
        rows = (("Manufacturer", "Humax" if self.model.startswith("BGW320") else "Arris"),
                ("Model Number", self.model), ("Serial Number", "282417000000"),
                ("Software Version", self.software), ("MAC Address", "d4:04:cd:00:00:01"))
        cell = self.label_cell
        table = "".join(f"<tr><{cell}>{k}</{cell}><td>{v}</td></tr>" for k, v in rows)
        return _shell("System Information", f"<h1>System Information</h1><table class='table60'>{table}</table>")

    def _login_page(self, sid: str) -> str:
        nonce = "" if self.login_changed else \
            f"<input type='hidden' name='nonce' value='{self._nonce(sid)}'>"
        return _shell("Access Code Required",
                      "<h1>Access Code Required</h1><form name='pagepost' method='post' action='/cgi-bin/login.ha'>"
                      f"{nonce}<input type='password' name='password' id='password'>"
                      "<input type='hidden' name='hashpassword' value=''>"
                      "<input type='submit' name='Continue' value='Continue'></form>")

    def _login(self, req: SimRequest, sid: str) -> SimResponse:
        if sid not in self.sessions:
            return _BAD
        nonce = self.nonces.get(sid, "")
        want = hashlib.md5((self.access_code + nonce).encode()).hexdigest()  # noqa: S324 - the firmware's scheme
        if not nonce or req.form.get("nonce") != nonce or req.form.get("hashpassword") != want or \
                req.form.get("password") != "*" * len(self.access_code):
            return SimResponse(200, _shell("Access Code Required", "<div id='error-message-text'>The Device Access "
                                                                   "Code is incorrect.</div>") + "")
        self.sessions[sid] = True
        self.logins += 1
        return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0; url=/cgi-bin/home.ha'>"
                                "</head></html>")

    def _ippass(self, sid: str) -> str:
        def select(name: str, options: tuple[tuple[str, str], ...], chosen: str) -> str:
            opts = "".join(f"<option value='{v}'{' selected' if v == chosen else ''}>{t}</option>" for v, t in options)
            return f"<select name='{name}' id='{name}'>{opts}</select>"

        macs = (("", "Manual Entry"), *((mac, f"{name} ({mac})") for mac, name, _ in self.devices))
        lease = "".join(f"<input type='text' name='{k}' value='{v}' size='3'>" for k, v in self.lease.items())
        return _shell("IP Passthrough", (
            "<h1>IP Passthrough</h1><form name='pagepost' method='post' action='/cgi-bin/ippass.ha'>"
            f"<input type='hidden' name='nonce' value='{self._nonce(sid)}'>"
            + select("allocmode", (("default", "Off"), ("passthrough", "Passthrough")), self.allocmode)
            + select("passmode", (("dhcps-first", "DHCPS-dynamic"), ("dhcps-fixed", "DHCPS-fixed")), self.passmode)
            + select("ippassmaclist", macs, "")
            + f"<input type='text' name='passmac' value='{html.escape(self.passmac)}' maxlength='17'>" + lease
            + "<input type='submit' name='Save' value='Save'></form>"))

    def _post(self, req: SimRequest, sid: str, page: str) -> SimResponse:
        if req.form.get("nonce") != self.nonces.get(sid):
            return SimResponse(200, _shell(page, "<div id='error-message-text'>The page has expired. Please "
                                                 "try again.</div>"))
        self._nonce(sid)
        if page != "ippass.ha":
            self.writes.append(f"{page} {sorted(req.form)}")
            return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0'></head></html>")
        form = req.form
        mac = form.get("ippassmaclist") or form.get("passmac", "")
        if form.get("allocmode") not in ("default", "passthrough") or \
                form.get("passmode") not in ("dhcps-first", "dhcps-fixed") or \
                (form.get("allocmode") == "passthrough" and form.get("passmode") == "dhcps-fixed" and
                 re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac) is None) or \
                not all(form.get(k, "").isdigit() for k in self.lease) or form.get("Save") != "Save":
            return SimResponse(200, _shell(page, "<div id='error-message-text'>Invalid entry.</div>"))
        self.allocmode, self.passmode, self.passmac = form["allocmode"], form["passmode"], mac.lower()
        self.lease = {k: form[k] for k in self.lease}
        self.writes.append(f"ippass {self.allocmode} {self.passmode} {self.passmac}")
        return SimResponse(200, "<html><head><meta http-equiv='refresh' content='0; url=/cgi-bin/ippass.ha'>"
                                "</head></html>")


@contextmanager
def simulate(*, model: str = "BGW320-505", **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated AT&T gateway on 127.0.0.1 over plain HTTP (``model`` ``BGW320-505`` or ``BGW210-700``)."""
    gateway = AttGateway(model=model)
    with HttpSimulator(gateway.handle, tls=False, server_header="") as server:
        gateway.http = server
        yield SimulatedDevice(driver="att", host="127.0.0.1", port=server.port, username="",
                              password=SIM_ACCESS_CODE, options={"scheme": "http"},
                              description=f"AT&T {model} at {server.url}", handle=gateway)
