"""A simulated SonicWall TZ370 (SonicOS 7.0.1) serving the SonicOS API over HTTPS on 127.0.0.1.

Follows the fact table ``docs/facts/sonicwall.md`` (rows ``S<n>``), never the driver: it imports no driver code.

* ``/api/sonicos/...``, JSON (S1). ``POST auth`` with HTTP Basic (body ``{"override": true}``) opens a session
  carried by a cookie (S2, S7, inferred); anything else without a live session is HTTP 401 with the status envelope
  (S4, S25); ``DELETE auth`` logs out (S3). A new login with ``override`` ends the previous session (S2).
* Every configuration write lands in the session's *pending* configuration; ``POST config/pending`` commits it,
  ``DELETE config/pending`` drops it, logging out or losing the session drops it too (S6, S8). GETs in a session
  with pending changes show them (S29, inferred).
* Tables (S9-S16, S19): ``address-objects/ipv4`` (by ``name``), ``service-objects``, ``service-groups`` (by
  ``name``), ``nat-policies/ipv4``, ``access-rules/ipv4`` (by ``uuid``), ``dhcp-server/ipv4/scopes/static``
  (by ``ip``/``mac``), ``dhcp-server/ipv4/scopes/dynamic`` (read only here), ``voip`` (one object, PUT merges);
  ``reporting/dhcp-server/ipv4/leases/status``, ``reporting/arp/caches``, ``version`` (S17, S18, S20). A duplicate
  name is refused (S22), a reference to a missing object is refused, an object still referenced cannot be deleted
  (S23), a missing entry is HTTP 404 (S22, inferred).
* Knobs: ``refuse_write`` (the n-th write answered ``success: false``), ``expire_token_after(n)`` (the session dies
  after ``n`` more requests), ``api_enabled`` (HTTP 403 ``E_DISABLED``, S5), plus the faults of
  :class:`routerfix.simulators._hosts.http.HttpSimulator` (``handle.http``).
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["API", "SIM_PASSWORD", "SonicWall", "simulate"]

API = "/api/sonicos"
SIM_PASSWORD = "Sw7-sim-password-routerfix"  # noqa: S105 - the simulator's own test password
COOKIE = "SessId"
"""The session cookie's name (S7, inferred)."""

NAMED = {"address-objects/ipv4": ("address_objects", "ipv4"), "service-objects": ("service_objects", ""),
         "service-groups": ("service_groups", "")}
"""Tables keyed by name: path → (collection key, inner key) (S9-S11)."""
BY_UUID = {"nat-policies/ipv4": ("nat_policies", "ipv4"), "access-rules/ipv4": ("access_rules", "ipv4")}
"""Tables keyed by uuid (S12, S14)."""


def _ok() -> dict[str, Any]:
    return {"status": {"success": True, "info": [{"level": "info", "code": "E_OK", "message": "Success."}]}}


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"status": {"success": False, "info": [{"level": "error", "code": code, "message": message}]}}


def _addr(name: str, ip: str, zone: str = "LAN") -> dict[str, Any]:
    return {"ipv4": {"name": name, "uuid": "", "zone": zone, "host": {"ip": ip}}}


SCENARIOS: dict[str, dict[str, Any]] = {
    "office": {},
    "pbx": {"address_objects": [_addr("PBX", "192.168.168.10")],
            "service_objects": [{"name": "PBX SIP", "uuid": "", "udp": {"begin": 5060, "end": 5060}}],
            "nat_policies": [{"ipv4": {"name": "pbx-sip", "uuid": "", "inbound": "X1", "outbound": "any",
                                       "source": {"any": True}, "translated_source": {"original": True},
                                       "destination": {"name": "X1 IP"}, "translated_destination": {"name": "PBX"},
                                       "service": {"name": "PBX SIP"}, "translated_service": {"original": True},
                                       "enable": True, "comment": "", "reflexive": False}}]},
}


class SonicWall:
    """The device model: running configuration, per-session pending configuration, reports, the handler."""

    def __init__(self, *, user: str = "admin", password: str = SIM_PASSWORD, scenario: str = "office") -> None:
        self.user, self.password = user, password
        self._ids = itertools.count(1)
        chosen = copy.deepcopy(SCENARIOS[scenario])
        self.running: dict[str, Any] = {
            "address_objects": [_addr("X0 IP", "192.168.168.168"), _addr("X1 IP", "203.0.113.20", "WAN"),
                                *chosen.get("address_objects", [])],
            "service_objects": [{"name": "HTTPS", "uuid": "", "tcp": {"begin": 443, "end": 443}},
                                *chosen.get("service_objects", [])],
            "service_groups": [],
            "nat_policies": chosen.get("nat_policies", []),
            "access_rules": [{"ipv4": {"name": "", "uuid": "", "from": "LAN", "to": "WAN", "action": "allow",
                                       "source": {"address": {"any": True}, "port": {"any": True}},
                                       "service": {"any": True}, "destination": {"address": {"any": True}},
                                       "schedule": {"always_on": True}, "enable": True, "auto_rule": True}}],
            "dynamic": [{"from": "192.168.168.100", "to": "192.168.168.200", "enable": True, "lease_time": 1440,
                         "default_gateway": "192.168.168.168", "netmask": "255.255.255.0", "comment": None}],
            "static": [{"ip": "192.168.168.110", "mac": "0004F2A1B2C3", "name": "lobby phone", "enable": True,
                        "netmask": "255.255.255.0", "default_gateway": "192.168.168.168"}],
            "voip": {"consistent_nat": False, "sip": {"enable": True, "tcp": False, "access_rule_based": False,
                                                      "signaling_timeout": 900, "media_timeout": 120},
                     "h323": {"enable": False}},
        }
        for table in ("address_objects", "service_objects", "nat_policies", "access_rules"):
            for entry in self.running[table]:
                self._inner(entry, table)["uuid"] = self._uuid()
        self.leases = [{"ip_address": "192.168.168.111", "host_name": "SIP-T46S", "lease_expires": "12/06/2026 09:00",
                        "mac_address": "80:5e:c0:11:22:33", "vendor": "Yealink", "type": "Dynamic"},
                       {"ip_address": "192.168.168.200", "host_name": "laptop", "lease_expires": "12/06/2026 09:10",
                        "mac_address": "3c:22:fb:44:55:66", "vendor": "", "type": "Dynamic"}]
        self.arp = [{"ip_address": "192.168.168.111", "type": "Dynamic", "mac_address": "80:5e:c0:11:22:33",
                     "vendor": "Yealink", "interface": "X0", "timeout": "", "expires_in_minutes": "9"},
                    {"ip_address": "192.168.168.199", "type": "Dynamic", "mac_address": "0e:a9:5b:a3:c0:72",
                     "vendor": "", "interface": "X0", "timeout": "", "expires_in_minutes": "4"}]
        self.version = {"firmware_version": "SonicOS 7.0.1-5145", "rom_version": "7.0.0.0",
                        "safemode_version": "", "serial_number": "2CB8ED000000", "model": "TZ 370",
                        "system_time": "", "system_uptime": "", "last_modified_by": ""}
        self.session: str | None = None
        self.pending: dict[str, Any] | None = None
        self.api_enabled = True
        self.refuse_write: int | None = None
        self._write_requests = 0
        self._expire_in: int | None = None
        self.writes: list[str] = []
        """Every accepted write to the pending configuration (``METHOD path``) and every ``COMMIT``, in order."""
        self.http: HttpSimulator | None = None
        self.lock = threading.Lock()

    # --- state for tests ---

    def _uuid(self) -> str:
        return f"00000000-0000-0001-0800-{next(self._ids):012x}"

    @staticmethod
    def _inner(entry: dict[str, Any], table: str) -> dict[str, Any]:
        inner = entry.get("ipv4") if table in ("address_objects", "nat_policies", "access_rules") else entry
        return inner if isinstance(inner, dict) else {}

    def snapshot(self) -> str:
        """The running configuration (uuids left out) as canonical JSON, for before/after comparisons."""
        def strip(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: strip(v) for k, v in value.items() if k != "uuid"}
            if isinstance(value, list):
                return [strip(v) for v in value]
            return value
        return json.dumps(strip(self.running), sort_keys=True)

    def expire_token_after(self, requests: int) -> None:
        """The session dies once ``requests`` more requests were answered (S25)."""
        self._expire_in = requests

    def table(self, key: str) -> list[dict[str, Any]]:
        """The running table ``key`` (``address_objects`` ...), inner objects."""
        rows: list[dict[str, Any]] = self.running[key]
        return [self._inner(r, key) for r in rows] if key in ("address_objects", "nat_policies", "access_rules") \
            else rows

    # --- handler ---

    def _json(self, status: int, body: Any) -> SimResponse:
        return SimResponse(status, json.dumps(body), content_type="application/json; charset=UTF-8")

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if self._expire_in is not None:
                if self._expire_in <= 0:
                    self._end_session()
                    self._expire_in = None
                else:
                    self._expire_in -= 1
            if req.path in ("/", "/auth.html"):
                return SimResponse(200, "<html><head><title>SonicWall - Authentication</title></head>"
                                        "<body><form action=\"auth.cgi\"></form></body></html>")
            if not req.path.startswith(API + "/"):
                return SimResponse(404, "<html><body>Not Found</body></html>")
            if not self.api_enabled:
                return self._json(403, _fail("E_DISABLED", "Service disabled."))
            rest = req.path[len(API) + 1:].rstrip("/")
            if rest == "auth":
                return self._auth(req)
            if self.session is None or req.cookies.get(COOKIE) != self.session:
                return self._json(401, _fail("E_UNAUTHORIZED", "Not authorized."))
            return self._route(req, rest)

    def _end_session(self) -> None:
        self.session = None
        self.pending = None  # S8: a session's pending changes go with it

    def _auth(self, req: SimRequest) -> SimResponse:
        if req.method == "DELETE":
            if self.session is None or req.cookies.get(COOKIE) != self.session:
                return self._json(401, _fail("E_UNAUTHORIZED", "Not authorized."))
            self._end_session()
            return self._json(200, _ok())
        if req.method != "POST":
            return self._json(405, _fail("E_INVALID_API_CALL", "Invalid API call."))
        if req.basic_auth() != (self.user, self.password):
            return self._json(401, _fail("E_UNAUTHORIZED", "Not authorized."))
        body = self._body(req)
        if self.session is not None and not (body or {}).get("override"):
            return self._json(403, _fail("E_ADMIN_BUSY", "Another administrator is logged in."))
        self._end_session()
        self.session = secrets.token_hex(16)
        return self._json(200, _ok()).set_cookie(COOKIE, self.session, http_only=True)

    @staticmethod
    def _body(req: SimRequest) -> dict[str, Any] | None:
        try:
            data = json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _view(self) -> dict[str, Any]:
        return self.pending if self.pending is not None else self.running

    def _route(self, req: SimRequest, rest: str) -> SimResponse:
        if req.method == "GET":
            return self._read(rest)
        if rest == "config/pending":
            return self._pending(req)
        self._write_requests += 1
        if self._write_requests == self.refuse_write:
            return self._json(400, _fail("E_INVALID", "Command failed validation."))
        body = self._body(req) if req.method in ("POST", "PUT") else {}
        if body is None:
            return self._json(400, _fail("E_INVALID_JSON", "Invalid JSON."))
        if self.pending is None:
            self.pending = copy.deepcopy(self.running)
        answer = self._write(req.method, rest, body)
        if answer.status == 200:
            self.writes.append(f"{req.method} {rest}")
        return answer

    def _pending(self, req: SimRequest) -> SimResponse:
        if req.method == "POST":
            self._write_requests += 1
            if self._write_requests == self.refuse_write:
                return self._json(400, _fail("E_INVALID", "Commit failed."))
            if self.pending is not None:
                self.running, self.pending = self.pending, None
                self.writes.append("COMMIT")
            return self._json(200, _ok())
        if req.method == "DELETE":
            self.pending = None
            return self._json(200, _ok())
        return self._json(405, _fail("E_INVALID_API_CALL", "Invalid API call."))

    def _read(self, rest: str) -> SimResponse:
        view = self._view()
        if rest == "version":
            return self._json(200, dict(self.version))
        if rest == "config/pending":
            return self._json(200, {} if self.pending is None else {"pending": True})
        if rest == "voip":
            return self._json(200, {"voip": copy.deepcopy(view["voip"])})
        if rest == "reporting/dhcp-server/ipv4/leases/status":
            return self._json(200, copy.deepcopy(self.leases))
        if rest == "reporting/arp/caches":
            return self._json(200, copy.deepcopy(self.arp))
        if rest in ("dhcp-server/ipv4/scopes/dynamic", "dhcp-server/ipv4/scopes/static"):
            kind = rest.rsplit("/", 1)[1]
            return self._json(200, {"dhcp_server": {"ipv4": {"scope": {kind: copy.deepcopy(view[kind])}}}})
        for path, (key, _) in {**NAMED, **BY_UUID}.items():
            if rest == path:
                return self._json(200, {key: copy.deepcopy(view[key])})
        return self._json(404, _fail("E_NOT_FOUND", "Not found."))

    def _names(self, key: str) -> set[str]:
        return {str(self._inner(r, key).get("name")) for r in self._view()[key]}

    def _write(self, method: str, rest: str, body: dict[str, Any]) -> SimResponse:
        view = self._view()
        if rest == "voip" and method == "PUT":
            voip = body.get("voip")
            if not isinstance(voip, dict):
                return self._json(400, _fail("E_INVALID", "voip expected."))
            for key, value in voip.items():  # PUT edits the fields it names (S19, inferred)
                if isinstance(value, dict) and isinstance(view["voip"].get(key), dict):
                    view["voip"][key].update(value)
                else:
                    view["voip"][key] = value
            return self._json(200, _ok())
        if rest == "dhcp-server/ipv4/scopes/static" and method == "POST":
            entries = body.get("dhcp_server", {}).get("ipv4", {}).get("scope", {}).get("static")
            if not isinstance(entries, list) or not entries:
                return self._json(400, _fail("E_INVALID", "static expected."))
            for entry in entries:
                if any(s["ip"] == entry.get("ip") for s in view["static"]):
                    return self._json(400, _fail("E_EXISTS", "Duplicate entry."))
                view["static"].append(copy.deepcopy(entry))
            return self._json(200, _ok())
        if rest.startswith("dhcp-server/ipv4/scopes/static/ip/") and method == "DELETE":
            parts = rest.split("/")
            if len(parts) != 8 or parts[6] != "mac":
                return self._json(404, _fail("E_NOT_FOUND", "Not found."))
            found = [s for s in view["static"] if s["ip"] == parts[5] and s["mac"] == parts[7]]
            if not found:
                return self._json(404, _fail("E_NOT_FOUND", "Not found."))
            view["static"].remove(found[0])
            return self._json(200, _ok())
        for path, (key, inner) in {**NAMED, **BY_UUID}.items():
            if rest == path and method == "POST":
                return self._create(key, inner, body)
            by = "name" if path in NAMED else "uuid"
            prefix = f"{path}/{by}/"
            if rest.startswith(prefix) and method == "DELETE":
                return self._delete(key, by, rest[len(prefix):])
        return self._json(404, _fail("E_NOT_FOUND", "Not found."))

    def _create(self, key: str, inner: str, body: dict[str, Any]) -> SimResponse:
        entries = body.get(key)
        if not isinstance(entries, list) or not entries:
            return self._json(400, _fail("E_INVALID", f"{key} expected."))
        view = self._view()
        for entry in entries:
            obj = entry.get(inner) if inner else entry
            if not isinstance(obj, dict):
                return self._json(400, _fail("E_INVALID", "Invalid object."))
            name = obj.get("name")
            if key in ("address_objects", "service_objects", "service_groups"):
                if not isinstance(name, str) or not name:
                    return self._json(400, _fail("E_INVALID", "Name required."))
                if name in self._names(key):
                    return self._json(400, _fail("E_EXISTS", "An object with this name already exists."))
            missing = self._missing_refs(key, obj)
            if missing:
                return self._json(400, _fail("E_NOT_FOUND", f"Object not found: {missing}"))
            stored = copy.deepcopy(entry)
            if key != "service_groups":
                (stored[inner] if inner else stored)["uuid"] = self._uuid()
            view[key].append(stored)
        return self._json(200, _ok())

    def _missing_refs(self, key: str, obj: dict[str, Any]) -> str:
        """The first object ``obj`` names that does not exist (S23)."""
        refs: list[tuple[str, str]] = []
        if key == "service_groups":
            refs += [("service_objects", m.get("name", "")) for m in obj.get("service_object", [])]
        if key == "nat_policies":
            for field in ("destination", "translated_destination", "source", "translated_source"):
                if "name" in obj.get(field, {}):
                    refs.append(("address_objects", obj[field]["name"]))
        if key == "access_rules":
            refs.append(("address_objects", obj.get("destination", {}).get("address", {}).get("name", "")))
        if key in ("nat_policies", "access_rules"):
            service = obj.get("service", {})
            refs.append(("service_objects", service.get("name", "")))
            refs.append(("service_groups", service.get("group", "")))
        for table, name in refs:
            if name and name not in self._names(table):
                return str(name)
        return ""

    def _referenced(self, key: str, name: str) -> bool:
        view = self._view()
        if key == "service_objects":
            if any(name == m.get("name") for g in view["service_groups"] for m in g.get("service_object", [])):
                return True
        for table in ("nat_policies", "access_rules"):
            for row in view[table]:
                text = json.dumps(self._inner(row, table))
                if f'"name": {json.dumps(name)}' in text or f'"group": {json.dumps(name)}' in text:
                    return True
        return False

    def _delete(self, key: str, by: str, value: str) -> SimResponse:
        rows = self._view()[key]
        found = [r for r in rows if str(self._inner(r, key).get(by)) == value]
        if not found:
            return self._json(404, _fail("E_NOT_FOUND", "Not found."))
        if by == "name" and self._referenced(key, value):
            return self._json(400, _fail("E_IN_USE", "The object is in use."))
        rows.remove(found[0])
        return self._json(200, _ok())


@contextmanager
def simulate(scenario: str = "office", *, password: str = SIM_PASSWORD, tls: bool = True,
             **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated SonicWall (SonicOS 7 API) on 127.0.0.1 over HTTPS (a pinned self-signed certificate);
    ``tls=False`` serves plain HTTP for test matrices where handshakes cost more than they prove."""
    device = SonicWall(scenario=scenario, password=password)
    with HttpSimulator(device.handle, tls=tls, server_header="SonicWALL") as server:
        device.http = server
        trust: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        yield SimulatedDevice(driver="sonicwall", host="127.0.0.1", port=server.port, username="admin",
                              password=password, options=trust,
                              description=f"SonicWall TZ 370 SonicOS 7.0.1 ({scenario}) at {server.url}",
                              handle=device)
