"""A simulated Linksys Smart Wi-Fi router (EA7500 v2, JNAP firmware 2.0.x) on 127.0.0.1.

Follows the fact table ``docs/facts/linksys.md`` (rows ``L<n>``), never the driver: it imports no driver code.

* ``POST /JNAP/`` with ``X-JNAP-Action: http://linksys.com/jnap/<module>/<Action>`` and ``X-JNAP-Authorization:
  Basic base64(admin:<password>)``; JSON in and out (L1-L3). A wrong or missing authorization is
  ``_ErrorUnauthorized`` (L5); ``core/GetDeviceInfo``, ``devicelist/GetDevices`` and the other reads of L6 need
  none.
* Replies ``{"result": "OK", "output": {…}}``; refusals carry the firmware's result names (L5):
  ``_ErrorInvalidInput``, ``ErrorRulesOverlap``, ``ErrorInvalidIPAddress``, ``ErrorInvalidDestinationIPAddress``,
  ``ErrorInvalidAdminPassword``; an unknown action ``_ErrorUnknownAction`` (L5, inferred).
* ``core/Transaction`` with ``[{"action", "request"}]`` → ``{"result": "OK", "responses": […]}`` (L4); a refused
  inner action makes the transaction's own result that refusal, with the responses so far (L4, inferred).
* ``core/CheckAdminPassword`` checks the authorization header, and ``adminPassword`` when the body has one (L7).
* Port forwarding: single-port (``maxRules`` 50, ``maxDescriptionLength`` 32) and port-range (``maxRules`` 25)
  lists; a ``Set`` **replaces the whole list** (L8-L11); overlapping rules, enabled or not, are refused (L12).
* ``router/Get|SetLANSettings`` with ``dhcpSettings.reservations`` (L13, L14); a ``Set`` answers
  ``sideEffects: ["DeviceRestart"]`` and the router is away (HTTP 503) for ``restart_seconds`` (L15, inferred).
* ``firewall/Get|SetALGSettings`` ``{isSIPEnabled}`` (L16); ``router/GetDHCPClientLeases`` (L17);
  ``devicelist/GetDevices`` with the router itself and ``knownInterfaces`` as in a real Velop capture (L18).

Knobs (attributes of :class:`LinksysRouter`): ``restart_seconds``, ``lan_side_effects``, ``check_result``,
``login_changed``
(``/JNAP/`` gone, as on firmware with another API), ``ignore_sets`` (``Set`` actions answered ``OK`` but not
stored, for testing that verification catches a dropped change), plus the HTTP faults of
:class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["SIM_PASSWORD", "LinksysRouter", "simulate"]

SIM_PASSWORD = "linksys-Pa55"  # noqa: S105 - the simulator's own test credential
"""The admin password the simulator accepts by default."""
_PREFIXES = ("http://linksys.com/jnap/", "http://cisco.com/jnap/")
_NO_AUTH = frozenset({"core/GetDeviceInfo", "devicelist/GetDevices", "firewall/GetALGSettings",
                      "router/GetLANSettings", "router/GetDHCPClientLeases"})
"""Actions answered without ``X-JNAP-Authorization`` (L6)."""
_PROTOCOLS = ("TCP", "UDP", "Both")


def _device(i: int, name: str | None, mac: str, ip: str | None, *, authority: bool = False) -> dict[str, Any]:
    """A device record shaped like the real capture (L18): ``friendlyName`` may be absent, ``connections`` empty."""
    record: dict[str, Any] = {
        "deviceID": f"{i:08x}-0000-4000-8000-{mac.replace(':', '').lower()}", "lastChangeRevision": 10 + i,
        "model": {"deviceType": "Infrastructure" if authority else "Computer"}, "unit": {},
        "isAuthority": authority, "knownInterfaces": [{"macAddress": mac, "interfaceType": "Wired"}],
        "connections": [] if ip is None else [{"macAddress": mac, "ipAddress": ip}],
        "properties": [], "maxAllowedProperties": 16}
    if name is not None:
        record["friendlyName"] = name
    if ip is not None and not authority:
        record["connections"][0]["parentDeviceID"] = "00000000-0000-4000-8000-c0ffee000001"
    return record


SCENARIOS: dict[str, dict[str, Any]] = {
    "office": {},
    "rules": {"single": [{"isEnabled": True, "externalPort": 443, "protocol": "TCP",
                          "internalServerIPAddress": "10.135.1.20", "internalPort": 443, "description": "NAS"}],
              "range": [{"isEnabled": True, "firstExternalPort": 27015, "lastExternalPort": 27030, "protocol": "Both",
                         "internalServerIPAddress": "10.135.1.30", "description": "Game server"}]},
    "pbx": {"single": [{"isEnabled": True, "externalPort": 5060, "protocol": "UDP",
                        "internalServerIPAddress": "10.135.1.10", "internalPort": 5060, "description": "PBX SIP"}]},
}
"""Starting rule lists for the ``scenario`` knob."""


class LinksysRouter:
    """The device model: JNAP state and the request handler."""

    def __init__(self, *, password: str = SIM_PASSWORD, scenario: str = "office", restart_seconds: float = 0.2) -> None:
        self.password = password
        self.single: list[dict[str, Any]] = copy.deepcopy(SCENARIOS[scenario].get("single", []))
        self.range: list[dict[str, Any]] = copy.deepcopy(SCENARIOS[scenario].get("range", []))
        self.max_single, self.max_range = 50, 25
        self.lan: dict[str, Any] = {
            "ipAddress": "10.135.1.1", "networkPrefixLength": 24, "minNetworkPrefixLength": 16,
            "maxNetworkPrefixLength": 30, "hostName": "Linksys00005", "isDHCPEnabled": True,
            "dhcpSettings": {"firstClientIPAddress": "10.135.1.100", "lastClientIPAddress": "10.135.1.149",
                             "leaseMinutes": 1440, "reservations": [
                                 {"macAddress": "00:04:F2:A1:B2:C3", "ipAddress": "10.135.1.100",
                                  "description": "lobby phone"}]},
            "minAllowedDHCPLeaseMinutes": 1, "maxAllowedDHCPLeaseMinutes": 525600,
            "maxDHCPReservationDescriptionLength": 63,
        }
        self.alg: dict[str, Any] = {"isSIPEnabled": True}
        self.devices = [_device(0, "Linksys00005", "C0:FF:EE:00:00:01", "10.135.1.1", authority=True),
                        _device(1, "Polycom-VVX450", "00:04:F2:A1:B2:C3", "10.135.1.100"),
                        _device(2, "SIP-T46S", "80:5E:C0:11:22:33", "10.135.1.101"),
                        _device(3, "reception-pc", "3C:22:FB:44:55:66", "10.135.1.102"),
                        _device(4, None, "0E:A9:5B:A3:C0:72", None)]
        expires = "2026-11-26T00:00:00Z"
        self.leases = [{"macAddress": "80:5E:C0:11:22:33", "ipAddress": "10.135.1.101", "expiration": expires,
                        "hostName": "SIP-T46S", "clientID": "01:80:5e:c0:11:22:33"},
                       {"macAddress": "3C:22:FB:44:55:66", "ipAddress": "10.135.1.149", "expiration": expires,
                        "hostName": "laptop", "clientID": "01:3c:22:fb:44:55:66"}]
        self.info = {"manufacturer": "Linksys", "modelNumber": "EA7500", "hardwareVersion": "2",
                     "description": "Linksys EA7500 Max-Stream AC1900", "serialNumber": "19A10C6E601234",
                     "firmwareVersion": "2.0.8.194281", "firmwareDate": "2019-09-24T14:46:28Z", "services": []}
        self.restart_seconds = restart_seconds
        self.lan_side_effects: tuple[str, ...] = ("DeviceRestart",)
        self.login_changed = False
        self.check_result = "OK"
        """What ``core/CheckAdminPassword`` answers for the right password (a firmware that throttles checks
        answers ``ErrorPasswordCheckDelayed``, L7)."""
        self.ignore_sets: set[str] = set()
        self.restarting_until = 0.0
        self.writes: list[str] = []
        """Every accepted Set action, in order."""
        self.http: HttpSimulator | None = None
        """The server (set by :func:`simulate`)."""
        self.lock = threading.Lock()

    # --- handler ---

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if time.monotonic() < self.restarting_until:
                return SimResponse(503, "<html><body>503 Service Unavailable</body></html>")
            if req.path == "/" and req.method == "GET":
                return SimResponse(200, "<html><head><title>Linksys Smart Wi-Fi</title></head>"
                                        "<body><div id='app'>Linksys Smart Wi-Fi</div></body></html>")
            if req.path not in ("/JNAP/", "/JNAP") or req.method != "POST" or self.login_changed:
                return SimResponse(404, "<html><body>404 Not Found</body></html>")
            action = self._action(req.headers.get("x-jnap-action", ""))
            if action is None:
                return self._reply({"result": "_ErrorUnknownAction"})
            try:
                body = json.loads(req.body.decode("utf-8") or "{}")
            except (ValueError, UnicodeDecodeError):
                return self._reply({"result": "_ErrorInvalidInput", "error": "malformed JSON"})
            authed = self._auth_ok(req.headers.get("x-jnap-authorization", ""))
            if action == "core/Transaction":
                if not authed:
                    return self._reply({"result": "_ErrorUnauthorized"})
                if not isinstance(body, list):
                    return self._reply({"result": "_ErrorInvalidInput", "error": "a list of actions"})
                responses = []
                for item in body:
                    inner = self._action(str(item.get("action", ""))) if isinstance(item, dict) else None
                    answer = {"result": "_ErrorUnknownAction"} if inner is None or inner == "core/Transaction" \
                        else self._do(inner, item.get("request") or {})
                    responses.append(answer)
                    if answer["result"] != "OK":  # L4 (inferred): the first refusal stops and names the transaction
                        return self._reply({"result": answer["result"], "responses": responses})
                return self._reply({"result": "OK", "responses": responses})
            if action not in _NO_AUTH and not authed:
                return self._reply({"result": "_ErrorUnauthorized"})
            return self._reply(self._do(action, body))

    @staticmethod
    def _action(value: str) -> str | None:
        for prefix in _PREFIXES:
            if value.startswith(prefix):
                return value[len(prefix):]
        return None

    def _auth_ok(self, value: str) -> bool:
        scheme, _, token = value.partition(" ")
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        return scheme == "Basic" and decoded == f"admin:{self.password}"

    @staticmethod
    def _reply(data: dict[str, Any]) -> SimResponse:
        return SimResponse(200, json.dumps(data), content_type="application/json; charset=utf-8")

    def _do(self, action: str, body: Any) -> dict[str, Any]:
        ok: dict[str, Any] = {"result": "OK", "output": {}}
        if action == "core/GetDeviceInfo":
            return {**ok, "output": copy.deepcopy(self.info)}
        if action == "core/CheckAdminPassword":
            if not isinstance(body, dict) or not isinstance(body.get("adminPassword", ""), str):
                return {"result": "_ErrorInvalidInput", "error": "adminPassword"}
            if body.get("adminPassword", self.password) != self.password:  # the header was checked already
                return {"result": "ErrorInvalidAdminPassword"}
            return ok if self.check_result == "OK" else {"result": self.check_result}
        if action == "firewall/GetSinglePortForwardingRules":
            return {**ok, "output": {"rules": copy.deepcopy(self.single), "maxRules": self.max_single,
                                     "maxDescriptionLength": 32}}
        if action == "firewall/GetPortRangeForwardingRules":
            return {**ok, "output": {"rules": copy.deepcopy(self.range), "maxRules": self.max_range,
                                     "maxDescriptionLength": 32}}
        if action == "router/GetLANSettings":
            return {**ok, "output": copy.deepcopy(self.lan)}
        if action == "firewall/GetALGSettings":
            return {**ok, "output": dict(self.alg)}
        if action == "devicelist/GetDevices":
            return {**ok, "output": {"revision": 42, "devices": copy.deepcopy(self.devices)}}
        if action == "router/GetDHCPClientLeases":
            return {**ok, "output": {"leases": copy.deepcopy(self.leases)}}
        if not isinstance(body, dict):
            return {"result": "_ErrorInvalidInput", "error": "an object"}
        if action in self.ignore_sets:  # answered like a success, nothing stored
            return {**ok, "output": {}}
        if action in ("firewall/SetSinglePortForwardingRules", "firewall/SetPortRangeForwardingRules"):
            return self._set_rules(action, body)
        if action == "router/SetLANSettings":
            return self._set_lan(body)
        if action == "firewall/SetALGSettings":
            if not isinstance(body.get("isSIPEnabled"), bool):
                return {"result": "_ErrorInvalidInput", "error": "isSIPEnabled"}
            self.alg = {"isSIPEnabled": body["isSIPEnabled"]}
            self.writes.append(action)
            return ok
        return {"result": "_ErrorUnknownAction"}

    def _lan_net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"{self.lan['ipAddress']}/{self.lan['networkPrefixLength']}", strict=False)

    def _check_rule(self, rule: Any, single: bool) -> str | None:
        keys = {"isEnabled", "protocol", "internalServerIPAddress", "description"} | (
            {"externalPort", "internalPort"} if single else {"firstExternalPort", "lastExternalPort"})
        if not isinstance(rule, dict) or set(rule) != keys:
            return "_ErrorInvalidInput"
        ports = [rule[k] for k in keys if "Port" in k]
        if not all(isinstance(p, int) and not isinstance(p, bool) and 1 <= p <= 65535 for p in ports):
            return "_ErrorInvalidInput"
        if not single and rule["lastExternalPort"] < rule["firstExternalPort"]:
            return "_ErrorInvalidInput"
        if rule["protocol"] not in _PROTOCOLS or not isinstance(rule["isEnabled"], bool):
            return "_ErrorInvalidInput"
        if not isinstance(rule["description"], str) or len(rule["description"]) > 32 or any(
                c in rule["description"] for c in "<>\"\\"):
            return "_ErrorInvalidInput"
        try:
            ip = ipaddress.IPv4Address(rule["internalServerIPAddress"])
        except (ValueError, TypeError):
            return "ErrorInvalidIPAddress"
        if ip not in self._lan_net() or str(ip) == self.lan["ipAddress"]:
            return "ErrorInvalidDestinationIPAddress"
        return None

    @staticmethod
    def _span(rule: dict[str, Any]) -> tuple[int, int, set[str]]:
        lo = rule.get("externalPort", rule.get("firstExternalPort"))
        hi = rule.get("externalPort", rule.get("lastExternalPort"))
        protos = {"TCP", "UDP"} if rule["protocol"] == "Both" else {rule["protocol"]}
        return int(str(lo)), int(str(hi)), protos

    def _set_rules(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        single = action == "firewall/SetSinglePortForwardingRules"
        rules = body.get("rules")
        if not isinstance(rules, list):
            return {"result": "_ErrorInvalidInput", "error": "rules"}
        if len(rules) > (self.max_single if single else self.max_range):
            return {"result": "_ErrorInvalidInput", "error": "too many rules"}
        for rule in rules:
            problem = self._check_rule(rule, single)
            if problem:
                return {"result": problem, "error": f"rule {rule!r:.80}"}
        other = self.range if single else self.single
        active = [*rules, *other]  # L12: the GUI refuses overlaps whether or not the rules are enabled
        for i, a in enumerate(active):
            for b in active[i + 1:]:
                alo, ahi, ap = self._span(a)
                blo, bhi, bp = self._span(b)
                if alo <= bhi and blo <= ahi and ap & bp:
                    return {"result": "ErrorRulesOverlap", "error": f"{a['description']!r} and {b['description']!r}"}
        if single:
            self.single = copy.deepcopy(rules)
        else:
            self.range = copy.deepcopy(rules)
        self.writes.append(action)
        return {"result": "OK", "output": {}}

    def _set_lan(self, body: dict[str, Any]) -> dict[str, Any]:
        need = {"ipAddress", "networkPrefixLength", "hostName", "isDHCPEnabled", "dhcpSettings"}
        if not need <= set(body) or not isinstance(body["dhcpSettings"], dict):
            return {"result": "_ErrorInvalidInput", "error": "missing LAN settings"}
        dhcp = body["dhcpSettings"]
        net = ipaddress.IPv4Network(f"{body['ipAddress']}/{body['networkPrefixLength']}", strict=False)
        seen: set[str] = set()
        for r in dhcp.get("reservations", []):
            try:
                ip = ipaddress.IPv4Address(r["ipAddress"])
                mac = str(r["macAddress"]).upper()
            except (ValueError, KeyError, TypeError):
                return {"result": "_ErrorInvalidInput", "error": "reservation"}
            if ip not in net or str(ip) in seen or mac in seen or len(str(r.get("description", ""))) > 63:
                return {"result": "_ErrorInvalidInput", "error": f"reservation {r!r:.80}"}
            seen |= {str(ip), mac}
        for key in need:
            self.lan[key] = copy.deepcopy(body[key])
        self.writes.append("router/SetLANSettings")
        if "DeviceRestart" in self.lan_side_effects:
            self.restarting_until = time.monotonic() + self.restart_seconds
        return {"result": "OK", "output": {}, "sideEffects": list(self.lan_side_effects)}


@contextmanager
def simulate(scenario: str = "office", *, tls: bool = False, restart_seconds: float = 0.2,
             password: str = SIM_PASSWORD, **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated Linksys JNAP router on 127.0.0.1 (plain HTTP like the real LAN side, or ``tls=True``)."""
    router = LinksysRouter(scenario=scenario, restart_seconds=restart_seconds, password=password)
    with HttpSimulator(router.handle, tls=tls, server_header="lighttpd") as server:
        router.http = server
        options: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        options.update({"restart_wait": 0.05, "poll_interval": 0.05})
        yield SimulatedDevice(driver="linksys", host="127.0.0.1", port=server.port, username="admin",
                              password=password, options=options,
                              description=f"Linksys EA7500 v2 JNAP ({scenario}) at {server.url}", handle=router)
