"""Simulated Netgear Nighthawk routers: an R7000 (ACOS httpd) and an R7800 (net-cgi), over real HTTP on 127.0.0.1.

Models and firmware:

* ``R7000`` — ACOS. Default firmware ``V1.0.11.123_10.2.100`` ("modern" profile: 64-hex ``?id=`` tokens,
  ``XSRF_TOKEN`` cookie on the 401, list page ``FW_forward3.htm``). ``firmware="V1.0.1.22"`` gives the
  "legacy" profile of the R7000 GPL: decimal tokens, no cookie, ``FW_forward2.htm`` with start/end columns.
* ``R7800`` — net-cgi, firmware ``V1.0.2.60WW``.

Follows the fact table docs/facts/netgear.md (row numbers below), never the driver. In short:

* Both: ``currentsetting.htm`` without auth (1); Basic auth, user ``admin`` (2); the first request of a client
  answers 401 (3); one admin session per client address (4), idle timeout 300 s (5, inferred); logout
  ``LGO_logout.htm`` (6); forward target inside the LAN, not the router (8); overlaps and reserved ports
  refused (9, inferred); writes apply after the "Please wait" page's delay (10); refusals on a page headed
  ``<h1>Failure</h1>`` with the reason in bold (11).
* ACOS: rows 12-30 (realm, ``XSRF_TOKEN`` on newer firmware, ``?id=`` tokens used up by every POST, the
  timestamp-expired page, ``WAN_wan.htm``/``security.cgi``, ``FW_forward2/3.htm``/``pforward.cgi`` with the
  custom-service form, 20 rules, ``LAN_lan.htm``, ``DEV_device.htm``, a second admin redirected by
  ``MNU_multiLogin.htm`` to ``MNU_access_multiLogin2.htm`` and ``multi_login.cgi``).
* net-cgi: rows 31-49 (``apply.cgi?/PAGE timestamp=`` per submit flag, a stale timestamp answered like a
  success, ``WAN_wan.htm`` state in page variables with the DMZ address only inside ``loadvalue()``, the
  handler reading the hidden ``*_value`` fields, ``forwardingArray1..forward_array_num``, the add form's
  comma lists, delete by 1-based slice, 64 rules, LAN pool inside ``loadvalue()``, ``DEV_show_device.htm``,
  ``multi_login.html``/``change_user.html``).

Markup is written for routerfix; no firmware file is copied. The Genie SOAP API is not simulated.

Fault knobs (arguments of :func:`simulate` or methods of :class:`NetgearSimulator`): ``other_admin=True``
(another IP holds the session), ``expire_token_after=N`` (tokens die after N more requests: an expired
token
mid-flow), ``http500="WAN_wan.htm"`` (a 500 for the next matching request), ``garble="FW_forward"``,
``slow_apply=seconds`` (the apply takes longer than the wait page says), ``login_changed=True`` (a
firmware whose login is a form instead of Basic auth).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse, basic_challenge
from .acos import AcosPages
from .netcgi import NetCgiPages
from .state import AttachedDevice, NetgearConfig, Rule

__all__ = ["MODELS", "NetgearSimulator", "simulate"]


@dataclass(frozen=True)
class _Model:
    family: str
    firmware: str
    region: str
    soap: str
    login_method: str


MODELS = {
    "R7000": _Model("acos", "V1.0.11.123_10.2.100", "R7000_NA", "3.21", "1.0"),
    "R6700": _Model("acos", "V1.0.2.16_10.0.53", "R6700_NA", "3.21", "1.0"),
    "R8000": _Model("acos", "V1.0.4.76_10.1.84", "R8000_NA", "3.21", "1.0"),
    "R7800": _Model("netcgi", "V1.0.2.60WW", "R7800_WW", "3.43", "2.0"),
    "R9000": _Model("netcgi", "V1.0.5.42", "R9000_WW", "3.43", "2.0"),
}
"""Models the simulator can stand for (ACOS or net-cgi) with a default firmware each."""


class NetgearSimulator:
    """One simulated Nighthawk. State (:attr:`config`) persists across sessions and logins."""

    def __init__(self, model: str = "R7000", *, firmware: str | None = None, tls: bool = False,
                 username: str = "admin", password: str = "password", phones: int = 2,  # noqa: S107
                 nat: str = "secured",
                 sip_alg: bool = True, apply_delay: float = 0.05, latency: float = 0.0, idle_timeout: float = 300.0,
                 xsrf: bool | None = None, max_rules: int | None = None, rules: list[Rule] | None = None,
                 other_admin: bool = False, expire_token_after: int | None = None, http500: str | None = None,
                 garble: str | None = None, slow_apply: float = 0.0, login_changed: bool = False) -> None:
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}")
        spec = MODELS[model]
        self.model = model
        self.family = spec.family
        self.spec = spec
        self.firmware = firmware or spec.firmware
        self.legacy = self.family == "acos" and self.firmware.startswith("V1.0.1.")
        self.xsrf = (self.family == "acos" and not self.legacy) if xsrf is None else xsrf
        self.username = username
        self.password = password
        self.apply_delay = apply_delay
        self.slow_apply = slow_apply
        self.idle_timeout = idle_timeout
        self.login_changed = login_changed
        self.config = NetgearConfig(max_rules=max_rules or (20 if self.family == "acos" else 64),
                                    nat_secured=nat == "secured", sip_alg=sip_alg)
        if phones < 2:
            self.config.devices = [d for d in self.config.devices if d.name != "SIP-T46S"]
        if phones < 1:
            self.config.devices = [d for d in self.config.devices if d.name != "Polycom-VVX450"]
        for i in range(2, phones):
            self.config.devices.append(AttachedDevice(f"192.168.1.{30 + i}", f"SIP-T54W-{i}",
                                                      f"80:5E:C0:00:00:{i:02X}"))
        if rules:
            self.config.rules = list(rules)
        self.pages: AcosPages | NetCgiPages = AcosPages(self) if self.family == "acos" else NetCgiPages(self)
        self._routes = self.pages.routes()
        self._lock = threading.RLock()
        self._pending: list[tuple[float, Callable[[], None]]] = []
        self.token: str | None = None
        self.timestamps: dict[str, str] = {}
        self.holder: str | None = None
        self.holder_seen = 0.0
        self.challenged: set[str] = set()
        self.xsrf_cookies: dict[str, str] = {}
        self.logins = 0
        self._expire_countdown: int | None = expire_token_after
        self.server = HttpSimulator(self.handle, tls=tls, latency=latency,
                                    server_header="uhttpd/1.0.0" if self.family == "netcgi" else "")
        if other_admin:
            self.set_other_admin()
        if http500:
            self.server.add_fault("status", http500, status=500)
        if garble:
            self.server.add_fault("garble", garble)

    # --- lifecycle ---

    def start(self) -> NetgearSimulator:
        """Start serving on 127.0.0.1."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    # --- knobs ---

    def set_other_admin(self, ip: str = "192.168.1.23") -> None:
        """Another admin (at ``ip``) holds the session now."""
        with self._lock:
            self.holder = ip
            self.holder_seen = time.monotonic()

    def expire_tokens(self) -> None:
        """Every issued token/timestamp dies now (an expired token mid-flow)."""
        with self._lock:
            self.token = None
            self.timestamps.clear()

    def expire_token_after(self, requests: int) -> None:
        """Tokens die after ``requests`` more requests."""
        self._expire_countdown = requests

    def settle(self) -> None:
        """Apply every pending change now (tests inspecting :attr:`config`)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for _, change in pending:
            with self.config.lock:
                change()

    # --- tokens ---

    def issue_token(self) -> str:
        """ACOS: a new form token; the previous one dies."""
        with self._lock:
            self.token = secrets.token_hex(32) if not self.legacy else str(secrets.randbelow(2**32))
            return self.token

    def consume_token(self, value: str) -> bool:
        """ACOS: True when ``value`` is the valid token; the token is used up either way."""
        with self._lock:
            ok = self.token is not None and secrets.compare_digest(value, self.token)
            self.token = None
            return ok

    def issue_timestamps(self, *flags: str, kill: tuple[str, ...] = ()) -> str:
        """net-cgi: a new timestamp for ``flags`` (and none for ``kill``)."""
        with self._lock:
            ts = str(int(time.time() * 1000) % 10**10 + secrets.randbelow(10**6))
            for flag in flags:
                self.timestamps[flag] = ts
            for flag in kill:
                self.timestamps.pop(flag, None)
            return ts

    def consume_timestamp(self, flag: str, value: str) -> bool:
        """net-cgi: True when ``value`` matches ``flag``'s timestamp; it is burnt either way."""
        with self._lock:
            current = self.timestamps.pop(flag, None)
            return current is not None and bool(value) and secrets.compare_digest(value, current)

    def schedule(self, change: Callable[[], None]) -> None:
        """Apply ``change`` after the apply delay (plus ``slow_apply``)."""
        with self._lock:
            self._pending.append((time.monotonic() + self.apply_delay + self.slow_apply, change))

    def _run_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [c for t, c in self._pending if t <= now]
            self._pending = [(t, c) for t, c in self._pending if t > now]
        for change in due:
            with self.config.lock:
                change()

    def take_session(self, ip: str) -> None:
        """``ip`` now holds the admin session."""
        with self._lock:
            self.holder = ip
            self.holder_seen = time.monotonic()

    # --- request handling ---

    def current_setting(self) -> SimResponse:
        s = self.spec
        lines = [f"Firmware={self.firmware}", f"RegionTag={s.region}", "Region=us", f"Model={self.model}",
                 "InternetConnectionStatus=Up", "ParentalControlSupported=1", f"SOAPVersion={s.soap}",
                 "ReadyShareSupportedLevel=0", "XCloudSupported=1", f"LoginMethod={s.login_method}"]
        return SimResponse(200, "\r\n".join(lines) + "\r\n", content_type="text/html")

    def _challenge(self, req: SimRequest) -> SimResponse:
        realm = f"NETGEAR {self.model}"
        if self.family == "acos":
            resp = basic_challenge(realm, (
                "<html><head><title>401 Unauthorized</title></head><body><h1>401 Unauthorized</h1><p>Access to "
                "this resource is denied, your client has not supplied the correct authentication.</p>"
                f"<form method=\"POST\" action=\"unauth.cgi?id={secrets.token_hex(32)}\"></form></body></html>"))
            if self.xsrf:
                cookie = str(secrets.randbelow(2**32))
                self.xsrf_cookies[req.client] = cookie
                resp.set_cookie("XSRF_TOKEN", cookie)
        else:
            resp = basic_challenge(realm, "<html><head><title> 401 Authorization</title></head><body><script>"
                                          "top.location.href='/unauth.cgi';</script></body></html>")
        return resp.header("X-Frame-Options", "SAMEORIGIN")

    def handle(self, req: SimRequest) -> SimResponse:
        """Serve one request (called by the HTTP server's threads)."""
        self._run_due()
        with self._lock:
            if self._expire_countdown is not None:
                self._expire_countdown -= 1
                if self._expire_countdown < 0:
                    self._expire_countdown = None
                    self.token = None
                    self.timestamps.clear()
        if req.path == "/currentsetting.htm":
            return self.current_setting()
        if self.login_changed:
            return SimResponse(200, "<html><head><title>NETGEAR Router</title></head><body><form name=\"login\" "
                                    "method=\"POST\" action=\"/login.cgi\"><input type=\"text\" name=\"username\">"
                                    "<input type=\"password\" name=\"password\"><input type=\"submit\" "
                                    "name=\"login\" value=\"Log In\"></form></body></html>")
        creds = req.basic_auth()
        with self._lock:
            first = req.client not in self.challenged
            cookie_ok = not self.xsrf or (req.cookies.get("XSRF_TOKEN") is not None
                                          and req.cookies.get("XSRF_TOKEN") == self.xsrf_cookies.get(req.client))
            if first or creds != (self.username, self.password) or not cookie_ok:
                self.challenged.add(req.client)
                return self._challenge(req)
            now = time.monotonic()
            if self.holder is not None and now - self.holder_seen > self.idle_timeout:
                self.holder = None
            if self.holder is not None and self.holder != req.client:
                return self._other_admin(req)
            if self.holder is None:
                self.logins += 1
            self.holder = req.client
            self.holder_seen = now
        if req.path == "/LGO_logout.htm":
            with self._lock:
                self.holder = None
                self.challenged.discard(req.client)
                self.token = None
                self.timestamps.clear()
            return SimResponse(200, "<html><head><title>Logout</title></head><body><p>You are logged out."
                                    "</p></body></html>")
        route = self._routes.get(req.path)
        if route is None:
            return SimResponse(404, "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>")
        return route(req)

    def _other_admin(self, req: SimRequest) -> SimResponse:
        if isinstance(self.pages, AcosPages):
            if req.path == "/multi_login.cgi":
                return self.pages.multi_login_cgi(req)
            if req.path == "/MNU_access_multiLogin2.htm":
                return self.pages.multi_login_page()
            return self.pages.multi_login_redirect()
        if req.path == "/change_user.html":
            self.take_session(req.client)
            return self.pages.index(req)
        if req.path in ("/multi_login.html", "/goodbye.html"):
            return self.pages.routes()[req.path](req)
        return self.pages.other_admin_page()


@contextmanager
def simulate(model: str = "R7000", *, tls: bool = True, **knobs: Any) -> Iterator[SimulatedDevice]:
    """Start a simulated Nighthawk on 127.0.0.1 and yield how to connect to it.

    :param model: ``R7000`` (ACOS, default) or ``R7800`` (net-cgi); also R6700/R8000/R9000.
    :param tls: serve HTTPS with a self-signed certificate; the device's options pin it.
    :param knobs: :class:`NetgearSimulator` arguments (``firmware``, ``phones``, ``nat``, ``sip_alg``, the
        fault knobs...).
    """
    sim = NetgearSimulator(model, tls=tls, **knobs)
    sim.start()
    try:
        options: dict[str, Any] = {"scheme": sim.server.scheme}
        if sim.server.fingerprint:
            options["tls_fingerprint"] = sim.server.fingerprint
        yield SimulatedDevice(
            driver="netgear", host="127.0.0.1", username=sim.username, password=sim.password,
            port=sim.server.port, options=options, handle=sim,
            description=f"simulated Netgear {model} ({'ACOS' if sim.family == 'acos' else 'net-cgi'}, firmware "
                        f"{sim.firmware}), {knobs.get('phones', 2)} phones, NAT "
                        f"{'Secured' if sim.config.nat_secured else 'Open'}")
    finally:
        sim.stop()
