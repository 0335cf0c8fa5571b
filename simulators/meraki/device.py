"""A simulated Meraki Dashboard API v1 (one organization, one MX network) on 127.0.0.1 over HTTPS.

Follows the fact table ``docs/facts/meraki.md`` (rows ``M<n>``), never the driver: it imports no driver code.

* Every route is under ``/api/v1``; the API key comes as ``Authorization: Bearer <key>`` or
  ``X-Cisco-Meraki-API-Key`` (M1); a wrong or missing key is HTTP 401 ``{"errors": [...]}`` (M15).
* ``GET /networks/{id}`` (M2); ``GET|PUT .../appliance/firewall/portForwardingRules`` — a PUT replaces the whole
  list and answers it (M3, M4); ``GET .../appliance/vlans/settings`` (M7); ``GET|PUT .../appliance/vlans/{vlanId}``
  with ``fixedIpAssignments`` (M8); ``GET|PUT .../appliance/singleLan`` without them (M9);
  ``GET .../clients`` paginated by ``perPage``/``startingAfter`` with a ``Link: <…>; rel=next`` header (M11).
* Bad bodies are HTTP 400 ``{"errors": [...]}`` (M15); the rate limit answers HTTP 429 with ``Retry-After`` (M12).

Knobs (attributes of :class:`MerakiCloud`): ``throttle`` (the next n requests answer 429), ``retry_after``,
``on_rules_read`` (called on every read of the rule list: a test plays another admin there), ``ignore_puts``
(PUTs answered 200 but not stored), ``revoked`` (the key stops working: a token that expired), plus the HTTP
faults of :class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["NETWORK_ID", "ORG_ID", "SIM_API_KEY", "MerakiCloud", "simulate"]

SIM_API_KEY = "5f1e0c9a7b3d2e8f4a6c1b0d9e8f7a6b5c4d3e2f"  # the simulator's own test key (40 hex, M1)
NETWORK_ID = "N_24329156"
ORG_ID = "2930418"
_NET = re.compile(r"^/api/v1/networks/([^/]+)(/.*)?$")
_RULE_KEYS = {"name", "lanIp", "uplink", "publicPort", "localPort", "allowedIps", "protocol"}
_PORTS = re.compile(r"^\d{1,5}(-\d{1,5})?$")

SCENARIOS: dict[str, dict[str, Any]] = {
    "office": {"vlans": True, "rules": [
        {"lanIp": "192.168.128.20", "allowedIps": ["any"], "name": "NAS web", "protocol": "tcp",
         "publicPort": "8443", "localPort": "443", "uplink": "both"}]},
    "single_lan": {"vlans": False, "rules": []},
    "pbx": {"vlans": True, "rules": [
        {"lanIp": "192.168.128.10", "allowedIps": ["203.0.113.0/24"], "name": "PBX SIP", "protocol": "udp",
         "publicPort": "5060", "localPort": "5060", "uplink": "internet1"}]},
}
"""Starting rule lists and VLAN mode for the ``scenario`` knob."""


def _client(i: int, mac: str, ip: str, description: str | None) -> dict[str, Any]:
    return {"id": f"k{i:06d}", "mac": mac, "ip": ip, "ip6": None, "description": description,
            "firstSeen": "2026-11-30T09:00:00Z", "lastSeen": "2026-12-05T01:50:00Z", "manufacturer": "Unknown",
            "recentDeviceName": "MX67", "status": "Online", "vlan": "1", "ssid": None}


class MerakiCloud:
    """The Dashboard state for one MX network and the request handler."""

    def __init__(self, *, api_key: str = SIM_API_KEY, scenario: str = "office", clients: int = 4) -> None:
        start = SCENARIOS[scenario]
        self.api_key = api_key
        self.network = {"id": NETWORK_ID, "organizationId": ORG_ID, "name": "Main Office",
                        "productTypes": ["appliance", "switch", "wireless"], "timeZone": "America/Los_Angeles",
                        "tags": [], "enrollmentString": None, "url": "https://n1.meraki.com/Main-Office/n/x/manage",
                        "notes": "", "isBoundToConfigTemplate": False}
        self.rules: list[dict[str, Any]] = copy.deepcopy(start["rules"])
        self.vlans_enabled: bool = start["vlans"]
        self.vlan: dict[str, Any] = {
            "id": "1", "networkId": NETWORK_ID, "name": "Default", "subnet": "192.168.128.0/24",
            "applianceIp": "192.168.128.1", "dhcpHandling": "Run a DHCP server",
            "dhcpLeaseTime": "1 day", "dnsNameservers": "upstream_dns",
            "fixedIpAssignments": {"00:04:f2:a1:b2:c3": {"ip": "192.168.128.5", "name": "lobby phone"}},
            "reservedIpRanges": [{"start": "192.168.128.2", "end": "192.168.128.4", "comment": "printers"}]}
        self.single_lan: dict[str, Any] = {"subnet": "192.168.128.0/24", "applianceIp": "192.168.128.1"}
        base = [("00:04:f2:a1:b2:c3", "192.168.128.5", "Polycom-VVX450"),
                ("80:5e:c0:11:22:33", "192.168.128.101", "SIP-T46S"),
                ("3c:22:fb:44:55:66", "192.168.128.254", "reception-pc"),
                ("0e:a9:5b:a3:c0:72", "192.168.128.253", None)]
        extra = [(f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", f"192.168.{129 + i // 250}.{i % 250 + 1}",
                  f"laptop-{i}")
                 for i in range(max(0, clients - len(base)))]
        self.clients = [_client(i, m, ip, d) for i, (m, ip, d) in enumerate([*base, *extra][:max(clients, 0)])]
        self.throttle = 0
        self.retry_after = "1"
        self.on_rules_read: Callable[[MerakiCloud], None] | None = None
        self.ignore_puts = False
        self.revoked = False
        self.puts: list[str] = []
        """Every accepted PUT's path, in order."""
        self.http: HttpSimulator | None = None
        self.lock = threading.Lock()

    # --- handler ---

    @staticmethod
    def _json(status: int, data: Any) -> SimResponse:
        return SimResponse(status, json.dumps(data), content_type="application/json; charset=utf-8")

    def _errors(self, status: int, *errors: str) -> SimResponse:
        return self._json(status, {"errors": list(errors)})

    def _authorized(self, req: SimRequest) -> bool:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        key = token if scheme == "Bearer" else req.headers.get("x-cisco-meraki-api-key", "")
        return bool(key) and key == self.api_key and not self.revoked

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if self.throttle > 0:  # M12
                self.throttle -= 1
                return self._errors(429, "API rate limit exceeded for organization").header("Retry-After",
                                                                                             self.retry_after)
            if not self._authorized(req):  # M15
                return self._errors(401, "Invalid API key")
            match = _NET.match(req.path)
            if match is None or match.group(1) != NETWORK_ID:
                return self._errors(404, "Not found")
            tail = match.group(2) or ""
            body: Any = None
            if req.method == "PUT":
                try:
                    body = json.loads(req.body.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    return self._errors(400, "The request body is not valid JSON")
                if not isinstance(body, dict):
                    return self._errors(400, "The request body must be an object")
            return self._route(req, tail, body)

    def _route(self, req: SimRequest, tail: str, body: Any) -> SimResponse:
        get = req.method == "GET"
        if tail == "" and get:
            return self._json(200, self.network)
        if tail == "/appliance/firewall/portForwardingRules":
            if get:
                if self.on_rules_read is not None:
                    self.on_rules_read(self)
                return self._json(200, {"rules": copy.deepcopy(self.rules)})
            if req.method == "PUT":
                return self._put_rules(body)
        if tail == "/appliance/vlans/settings" and get:
            return self._json(200, {"vlansEnabled": self.vlans_enabled})
        if tail.startswith("/appliance/vlans/") and tail != "/appliance/vlans/settings":
            if not self.vlans_enabled:
                return self._errors(400, "VLANs are not enabled for this network")
            if tail != f"/appliance/vlans/{self.vlan['id']}":
                return self._errors(404, "Not found")
            if get:
                return self._json(200, self.vlan)
            if req.method == "PUT":
                return self._put_vlan(body)
        if tail == "/appliance/singleLan":
            if self.vlans_enabled:
                return self._errors(400, "Single LAN is not available while VLANs are enabled")
            if get:
                return self._json(200, self.single_lan)
            if req.method == "PUT":
                return self._put_single_lan(body)
        if tail == "/clients" and get:
            return self._clients(req)
        return self._errors(404, "Not found")

    def _lan(self) -> ipaddress.IPv4Network:
        lan = self.vlan if self.vlans_enabled else self.single_lan
        return ipaddress.IPv4Network(lan["subnet"], strict=False)

    def _put_rules(self, body: dict[str, Any]) -> SimResponse:
        rules = body.get("rules")
        if not isinstance(rules, list):
            return self._errors(400, "'rules' must be an array")
        for i, rule in enumerate(rules):
            problem = self._rule_problem(rule)
            if problem:
                return self._errors(400, f"Port forwarding rule {i + 1}: {problem}")
        if not self.ignore_puts:
            self.rules = [{k: r[k] for k in ("lanIp", "allowedIps", "name", "protocol", "publicPort",
                                            "localPort", "uplink") if k in r} for r in copy.deepcopy(rules)]
            for r in self.rules:  # M4 (inferred): a rule sent without name/uplink reads back with the defaults
                r.setdefault("name", "")
                r.setdefault("uplink", "both")
        self.puts.append("portForwardingRules")
        return self._json(200, {"rules": copy.deepcopy(self.rules)})

    def _rule_problem(self, rule: Any) -> str | None:
        if not isinstance(rule, dict) or not {"lanIp", "publicPort", "localPort", "allowedIps", "protocol"} <= \
                set(rule) or not set(rule) <= _RULE_KEYS:
            return "missing or unknown fields"
        if rule["protocol"] not in ("tcp", "udp") or rule.get("uplink", "both") not in ("both", "internet1",
                                                                                         "internet2"):
            return "protocol must be tcp or udp, uplink both, internet1 or internet2"
        for key in ("publicPort", "localPort"):
            value = rule[key]
            if not isinstance(value, str) or not _PORTS.match(value) or not all(
                    1 <= int(p) <= 65535 for p in value.split("-")):
                return f"{key} must be a port or a port range"
        if not isinstance(rule["allowedIps"], list) or not rule["allowedIps"] or not all(
                isinstance(a, str) for a in rule["allowedIps"]):
            return "allowedIps must be a non-empty array"
        if not isinstance(rule.get("name", ""), str):
            return "name must be a string"
        try:
            ip = ipaddress.IPv4Address(rule["lanIp"])
        except (ValueError, TypeError):
            return "lanIp must be an IP address"
        if ip not in self._lan():
            return "lanIp must be on a local subnet"
        return None

    def _put_vlan(self, body: dict[str, Any]) -> SimResponse:
        fixed = body.get("fixedIpAssignments", self.vlan["fixedIpAssignments"])
        if not isinstance(fixed, dict):
            return self._errors(400, "'fixedIpAssignments' must be an object")
        seen: set[str] = set()
        for mac, entry in fixed.items():
            if not re.fullmatch(r"([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}", mac) or not isinstance(entry, dict):
                return self._errors(400, f"Fixed IP assignment {mac!r} is not valid")
            try:
                ip = ipaddress.IPv4Address(entry.get("ip"))
            except (ValueError, TypeError):
                return self._errors(400, f"Fixed IP assignment {mac!r} has no valid ip")
            if ip not in self._lan() or str(ip) in seen or str(ip) == self.vlan["applianceIp"]:
                return self._errors(400, f"Fixed IP assignment {mac!r}: {ip} is not available on this VLAN")
            seen.add(str(ip))
        if not self.ignore_puts:
            self.vlan["fixedIpAssignments"] = {m.lower(): {"ip": e["ip"], "name": str(e.get("name") or "")}
                                               for m, e in fixed.items()}
        self.puts.append("vlan")
        return self._json(200, self.vlan)

    def _put_single_lan(self, body: dict[str, Any]) -> SimResponse:
        for key in ("subnet", "applianceIp"):
            if key in body:
                self.single_lan[key] = body[key]
        self.puts.append("singleLan")
        return self._json(200, self.single_lan)

    def _clients(self, req: SimRequest) -> SimResponse:
        params = req.query_params()
        try:
            per_page = int(params.get("perPage", "10"))
        except ValueError:
            return self._errors(400, "perPage must be an integer")
        if not 3 <= per_page <= 5000:  # M11
            return self._errors(400, "perPage must be between 3 and 5000")
        after = params.get("startingAfter")
        ids = [c["id"] for c in self.clients]
        start = ids.index(after) + 1 if after in ids else 0
        page = self.clients[start:start + per_page]
        resp = self._json(200, page)
        if start + per_page < len(self.clients):
            query = urllib.parse.urlencode({**params, "startingAfter": page[-1]["id"]})
            assert self.http is not None
            resp.header("Link", f"<{self.http.url}{req.path}?{query}>; rel=next")
        return resp


@contextmanager
def simulate(scenario: str = "office", *, clients: int = 4, api_key: str = SIM_API_KEY, password: str | None = None,
             **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated Meraki Dashboard API (HTTPS, self-signed certificate pinned by fingerprint); ``password``
    is another name for ``api_key`` (what the shared suites pass)."""
    api_key = password or api_key
    cloud = MerakiCloud(scenario=scenario, clients=clients, api_key=api_key)
    with HttpSimulator(cloud.handle, tls=True) as server:
        cloud.http = server
        options: dict[str, Any] = {"tls_fingerprint": server.fingerprint, "network_id": NETWORK_ID,
                                   "organization_id": ORG_ID, "max_retry_after": 2}
        yield SimulatedDevice(driver="meraki", host="127.0.0.1", port=server.port, username="",
                              password=api_key, options=options,
                              description=f"Meraki Dashboard API, MX network {NETWORK_ID} ({scenario}) at {server.url}",
                              handle=cloud)
