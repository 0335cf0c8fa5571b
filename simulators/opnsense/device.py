"""A simulated OPNsense firewall (26.7, Kea DHCPv4) serving its REST API over HTTPS on 127.0.0.1.

Follows the fact table ``docs/facts/opnsense.md`` (rows ``O<n>``), never the driver: it imports no driver code.

* ``/api/<module>/<controller>/<command>[/<param>]`` (O1); HTTP Basic with the API key as user name and the
  secret as password, anything else HTTP 401 (O2, O22); an unknown endpoint HTTP 404 (O21). Every route is one of
  :data:`ROUTES`, each a controller action of opnsense/core (the route table of the facts, checked by the tests).
* ``firewall/d_nat``: ``search_rule`` (rows in sequence order, the anti-lockout rows first, O6; ``rowCount`` and
  ``current`` paginate, ``-1`` all, O23), ``add_rule`` / ``del_rule/<uuid>`` answering ``saved``/``failed`` with
  ``validations`` and ``deleted``/``not found`` (O7), POST only; ``apply`` copies the saved rules to the running
  set (O8).
* ``kea/dhcpv4``: ``get``, ``search_subnet``, ``search_reservation``, ``add_reservation``,
  ``del_reservation/<uuid>``; a duplicate address, or MAC within a subnet, is refused (O11);
  ``kea/service/reconfigure`` makes them active (O12); ``kea/leases4/search`` (O16);
  ``diagnostics/interface/get_arp`` (O17); ``diagnostics/system/system_information`` (O15).

Knobs (attributes of :class:`OpnsenseFirewall`): ``release`` (``"26.7"``; ``"25.7"`` has no ``d_nat`` API, O9),
``dhcp`` (``"kea"`` or ``"isc"``: Kea disabled, O14), ``refuse`` (routes answered ``{"result": "failed"}`` with a
validation message), ``key``/``secret``, plus the HTTP faults of
:class:`routerfix.simulators._hosts.http.HttpSimulator` through ``handle.http``.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import threading
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["ROUTES", "SIM_KEY", "SIM_SECRET", "OpnsenseFirewall", "simulate"]

SIM_KEY = "sim0KEY/routerfix+opnsense0000000000000000000000"
"""The API key the simulator accepts (the shape of a real one: 48 base64 characters)."""
SIM_SECRET = "Sim7secret+for/routerfix+opnsense+tests+000000000000000000000000000000"  # noqa: S105 - simulator credential

ROUTES: dict[str, str] = {
    "diagnostics/system/system_information": "GET",
    "diagnostics/interface/get_arp": "GET",
    "firewall/d_nat/search_rule": "GET,POST",
    "firewall/d_nat/add_rule": "POST",
    "firewall/d_nat/del_rule": "POST",
    "firewall/d_nat/apply": "POST",
    "kea/dhcpv4/get": "GET",
    "kea/dhcpv4/search_subnet": "GET,POST",
    "kea/dhcpv4/search_reservation": "GET,POST",
    "kea/dhcpv4/add_reservation": "POST",
    "kea/dhcpv4/del_reservation": "POST",
    "kea/service/reconfigure": "POST",
    "kea/leases4/search": "GET,POST",
}
"""Every endpoint served, ``<module>/<controller>/<command>`` → methods (route table of the facts)."""
_NEEDS_DNAT = frozenset(r for r in ROUTES if r.startswith("firewall/d_nat/"))
_NEEDS_KEA = frozenset(r for r in ROUTES if r.startswith("kea/") and r != "kea/dhcpv4/get")
_PROTOCOLS = frozenset({"tcp", "udp", "tcp/udp", "icmp", ""})
_PORT = re.compile(r"^\d{1,5}(-\d{1,5})?$")


def _uuid(n: int) -> str:
    return str(uuidlib.UUID(int=0x5EED0000 << 96 | n))


def _rule(n: int, seq: int, descr: str, proto: str, port: str, target: str, local: str) -> dict[str, str]:
    return {"uuid": _uuid(n), "sequence": str(seq), "disabled": "0", "nordr": "0", "interface": "wan",
            "ipprotocol": "inet", "protocol": proto, "source.network": "any", "source.port": "",
            "destination.network": "wanip", "destination.port": port, "target": target, "local-port": local,
            "descr": descr, "log": "0", "natreflection": "", "pass": ""}


SCENARIOS: dict[str, list[dict[str, str]]] = {
    "office": [_rule(1, 100, "NAS web", "tcp", "443", "10.40.0.20", "443")],
    "empty": [],
    "pbx": [_rule(2, 100, "PBX SIP", "udp", "5060", "10.40.0.10", "5060")],
}
"""Starting Destination NAT rules for the ``scenario`` knob."""


class OpnsenseFirewall:
    """The device model: saved and running configuration, and the request handler."""

    def __init__(self, *, scenario: str = "office", release: str = "26.7", dhcp: str = "kea",
                 key: str = SIM_KEY, secret: str = SIM_SECRET) -> None:
        self.release, self.dhcp, self.key, self.secret = release, dhcp, key, secret
        self.rules: list[dict[str, str]] = copy.deepcopy(SCENARIOS[scenario])
        self.subnets = [{"uuid": _uuid(100), "subnet": "10.40.0.0/24", "pools": "10.40.0.100 - 10.40.0.199",
                         "option_data.routers": "10.40.0.1", "description": "LAN"}]
        self.reservations = [{"uuid": _uuid(200), "subnet": _uuid(100), "ip_address": "10.40.0.100",
                              "hw_address": "00:04:f2:a1:b2:c3", "hostname": "lobby-phone", "description": ""}]
        self.leases = [{"address": "10.40.0.101", "hwaddr": "80:5e:c0:11:22:33", "hostname": "SIP-T46S",
                        "expire": "1796515200", "if_descr": "LAN"},
                       {"address": "10.40.0.199", "hwaddr": "3c:22:fb:44:55:66", "hostname": "laptop",
                        "expire": "1796515200", "if_descr": "LAN"}]
        self.arp = [{"ip": "10.40.0.100", "mac": "00:04:f2:a1:b2:c3", "hostname": "", "intf": "igc1"},
                    {"ip": "10.40.0.101", "mac": "80:5e:c0:11:22:33", "hostname": "SIP-T46S", "intf": "igc1"},
                    {"ip": "10.40.0.199", "mac": "3c:22:fb:44:55:66", "hostname": "laptop", "intf": "igc1"}]
        self.running_rules = copy.deepcopy(self.rules)
        self.running_reservations = copy.deepcopy(self.reservations)
        self.refuse: set[str] = set()
        self.writes: list[str] = []
        """Every accepted write route, in order."""
        self._next = 1000
        self.http: HttpSimulator | None = None
        self.lock = threading.Lock()

    # --- state helpers ---

    def dirty(self) -> bool:
        """True when saved changes are not applied (the GUI's "Apply changes" banner)."""
        return self.rules != self.running_rules or self.reservations != self.running_reservations

    def new_uuid(self) -> str:
        self._next += 1
        return _uuid(self._next)

    # --- handler ---

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if not req.path.startswith("/api/"):
                return SimResponse(404, "<html><body>Page not found</body></html>")
            if req.basic_auth() != (self.key, self.secret):
                return self._json({"status": 401, "message": "Authentication Failed"}, 401)
            parts = req.path[len("/api/"):].strip("/").split("/")
            route, params = "/".join(parts[:3]), parts[3:]
            if route not in ROUTES or (route in _NEEDS_DNAT and self.release < "26.1") or \
                    (route in _NEEDS_KEA and self.dhcp != "kea"):
                return self._json({"errorMessage": "Endpoint not found", "errorTitle": "Error"}, 404)
            if req.method not in ROUTES[route].split(","):
                return self._json({"result": "failed"} if "/" in route else {"status": "failed"})
            try:
                body = json.loads(req.body.decode("utf-8") or "{}") if req.method == "POST" else {}
            except (ValueError, UnicodeDecodeError):
                return self._json({"errorMessage": "Invalid JSON syntax", "errorTitle": "Error"}, 400)
            if not isinstance(body, dict):
                body = {}
            return self._json(self._route(route, params, body, req))

    def _route(self, route: str, params: list[str], body: dict[str, Any], req: SimRequest) -> Any:
        if route in self.refuse:
            return {"result": "failed", "validations": {"rule.target": "simulated refusal"}}
        match route:
            case "diagnostics/system/system_information":
                return {"name": "fw1.office.example", "versions": [f"OPNsense {self.release}.1-amd64",
                                                                    "FreeBSD 14.3-RELEASE-p2", "OpenSSL 3.0.17"],
                        "updates": "Click to check for updates."}
            case "diagnostics/interface/get_arp":
                return copy.deepcopy(self.arp)
            case "firewall/d_nat/search_rule":
                lockout: dict[str, Any] = {"uuid": "lockout_0", "protocol": "tcp", "disabled": "0", "interface": "lan",
                           "destination.network": "lanip", "destination.port": "443", "is_automatic": True,
                           "descr": "Anti-Lockout Rule"}
                rows: list[dict[str, Any]] = [lockout, *sorted(self.rules, key=lambda r: int(r["sequence"]))]
                return self._page(rows, body, req)
            case "firewall/d_nat/add_rule":
                return self._add_rule(body.get("rule"))
            case "firewall/d_nat/del_rule":
                return self._delete(self.rules, params, route)
            case "firewall/d_nat/apply":
                self.running_rules = copy.deepcopy(self.rules)
                self.writes.append(route)
                return {"status": "OK\n"}
            case "kea/dhcpv4/get":
                enabled = "1" if self.dhcp == "kea" else "0"
                return {"dhcpv4": {"general": {"enabled": enabled, "interfaces": {"lan": {"selected": 1}}},
                                   "ha": {"enabled": "0"}, "this_hostname": "fw1"}}
            case "kea/dhcpv4/search_subnet":
                return self._page(self.subnets, body, req)
            case "kea/dhcpv4/search_reservation":
                return self._page(self.reservations, body, req)
            case "kea/dhcpv4/add_reservation":
                return self._add_reservation(body.get("reservation"))
            case "kea/dhcpv4/del_reservation":
                return self._delete(self.reservations, params, route)
            case "kea/service/reconfigure":
                self.running_reservations = copy.deepcopy(self.reservations)
                self.writes.append(route)
                return {"status": "ok"}
            case "kea/leases4/search":
                return self._page(self.leases, body, req)
        return {"result": "failed"}

    @staticmethod
    def _page(rows: list[dict[str, Any]], body: dict[str, Any], req: SimRequest) -> dict[str, Any]:
        """``searchBase`` paging (O23): ``rowCount`` per page (``-1`` all, the default) and page ``current``."""
        args = {**req.query_params(), **{k: str(v) for k, v in body.items()}}
        try:
            count, current = int(args.get("rowCount", "-1")), max(1, int(args.get("current", "1")))
        except ValueError:
            count, current = -1, 1
        shown = rows if count < 0 else rows[(current - 1) * count: current * count]
        return {"rows": copy.deepcopy(shown), "rowCount": len(shown), "total": len(rows), "current": current}

    def _delete(self, items: list[dict[str, Any]], params: list[str], route: str) -> dict[str, str]:
        if not params:
            return {"result": "failed"}
        for i, item in enumerate(items):
            if item["uuid"] == params[0]:
                del items[i]
                self.writes.append(route)
                return {"result": "deleted"}
        return {"result": "not found"}

    def _add_rule(self, rule: Any) -> dict[str, Any]:
        if not isinstance(rule, dict):
            return {"result": "failed"}
        errors: dict[str, str] = {}
        if str(rule.get("protocol", "")).lower() not in _PROTOCOLS:
            errors["rule.protocol"] = "Option not in list."
        for field in ("destination.port", "local-port"):
            value = str(rule.get(field, ""))
            if value and (not _PORT.match(value) or any(not 0 < int(p) < 65536 for p in value.split("-"))):
                errors[f"rule.{field}"] = "Please specify a valid port number, well-known name, alias or range."
        if "-" in str(rule.get("local-port", "")):
            errors["rule.local-port"] = "Please specify a valid port number or alias."
        try:
            ipaddress.IPv4Address(str(rule.get("target", "")))
        except ValueError:
            errors["rule.target"] = "Please specify a valid network address or alias."
        if errors:
            return {"result": "failed", "validations": errors}
        seq = max((int(r["sequence"]) for r in self.rules), default=0) + 100
        new = {"uuid": self.new_uuid(), "sequence": str(seq), "disabled": "0", "nordr": "0", "interface": "",
               "ipprotocol": "", "protocol": "", "source.network": "any", "source.port": "",
               "destination.network": "any", "destination.port": "", "target": "", "local-port": "", "descr": "",
               "log": "0", "natreflection": "", "pass": ""}
        new.update({k: str(v) for k, v in rule.items() if k in new and k != "uuid"})
        new["protocol"] = new["protocol"].lower()
        self.rules.append(new)
        self.writes.append("firewall/d_nat/add_rule")
        return {"result": "saved", "uuid": new["uuid"]}

    def _add_reservation(self, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            return {"result": "failed"}
        errors: dict[str, str] = {}
        subnet = next((s for s in self.subnets if s["uuid"] == record.get("subnet")), None)
        if subnet is None:
            errors["reservation.subnet"] = "Option not in list."
        try:
            address = ipaddress.IPv4Address(str(record.get("ip_address", "")))
            if subnet is not None and address not in ipaddress.IPv4Network(subnet["subnet"]):
                errors["reservation.ip_address"] = "Address not in subnet"
        except ValueError:
            errors["reservation.ip_address"] = "Please specify a valid IP address."
        mac = str(record.get("hw_address", "")).lower()
        if not re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac):
            errors["reservation.hw_address"] = "Please specify a valid MAC address."
        for r in self.reservations:  # O11: the address is unique, the MAC unique per subnet
            if r["ip_address"] == record.get("ip_address"):
                errors["reservation.ip_address"] = "Duplicate entry exists."
            if r["subnet"] == record.get("subnet") and r["hw_address"] == mac:
                errors["reservation.hw_address"] = "Duplicate entry exists."
        if errors:
            return {"result": "failed", "validations": errors}
        new = {"uuid": self.new_uuid(), "subnet": str(record["subnet"]), "ip_address": str(record["ip_address"]),
               "hw_address": mac, "hostname": str(record.get("hostname", "")),
               "description": str(record.get("description", ""))}
        self.reservations.append(new)
        self.writes.append("kea/dhcpv4/add_reservation")
        return {"result": "saved", "uuid": new["uuid"]}

    @staticmethod
    def _json(data: Any, status: int = 200) -> SimResponse:
        return SimResponse(status, json.dumps(data), content_type="application/json; charset=UTF-8")


@contextmanager
def simulate(scenario: str = "office", *, release: str = "26.7", dhcp: str = "kea", tls: bool = True,
             password: str = SIM_SECRET, **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated OPNsense on 127.0.0.1 over HTTPS (a self-signed certificate, pinned by fingerprint);
    ``password`` is the API secret it accepts."""
    firewall = OpnsenseFirewall(scenario=scenario, release=release, dhcp=dhcp, secret=password)
    with HttpSimulator(firewall.handle, tls=tls, server_header="OPNsense") as server:
        firewall.http = server
        options: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        yield SimulatedDevice(driver="opnsense", host="127.0.0.1", port=server.port, username=SIM_KEY,
                              password=password, options=options,
                              description=f"OPNsense {release} ({dhcp}, {scenario}) at {server.url}",
                              handle=firewall)
