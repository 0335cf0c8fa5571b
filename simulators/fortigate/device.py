"""A simulated FortiGate 60F (FortiOS 7.2) REST API on 127.0.0.1 (HTTPS).

Follows the fact table ``docs/facts/fortigate.md`` (rows ``F<n>``), never the driver: it imports no driver code.

* ``Authorization: Bearer <token>`` on every request (F1, F2); a missing or wrong token, or one marked expired
  (``token_valid`` knob), is HTTP 401; ``access_token`` in the URL is refused as on FortiOS 7.4.5+ (F2).
* Envelope ``{"http_method", "results", "vdom", "path", "name", "status", "http_status", "serial", "version",
  "build"}``; refusals ``{"status": "error", "http_status": 4xx/500, "error": <code>}`` (F4, F5).
* ``GET|POST cmdb/<path>/<name>``, ``GET|PUT|DELETE cmdb/<path>/<name>/<mkey>`` for ``firewall/vip`` (mkey
  ``name``), ``firewall/policy`` (``policyid``; 0 on POST picks the next), ``system.dhcp/server`` (``id``),
  ``system/session-helper`` (``id``); ``system/settings`` is one object (GET, PUT) (F6-F12, F15, F16). A POST of an
  existing mkey is error -5; a DELETE of a VIP a policy uses is error -23 (F6).
* ``monitor/system/status``, ``monitor/system/dhcp``, ``monitor/network/arp`` (F3, F13, F14).
* ``max_requests_per_second`` knob: HTTP 429 beyond it (F18, inferred); ``ignore_writes``: writes answered success
  and not stored; ``refuse_write``: the n-th write refused with a FortiOS error (F5); ``token_valid``; plus the
  faults of :class:`routerfix.simulators._hosts.http.HttpSimulator` (``handle.http``).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routerfix.simulate import SimulatedDevice

from .._hosts.http import HttpSimulator, SimRequest, SimResponse

__all__ = ["SIM_TOKEN", "FortiGate", "simulate"]

SIM_TOKEN = "Gq8b0kzx3NnHf5tQ1wYc7s6pmrR0Hd"  # noqa: S105 - the simulator's own test token (30 characters, F1)
"""The REST API token the simulator accepts by default."""

TABLES = {"firewall/vip": "name", "firewall/policy": "policyid", "system.dhcp/server": "id",
          "system/session-helper": "id"}
"""Table path → mkey field (F6)."""

_HELPERS = [("pptp", 6, 1723), ("h323", 6, 1720), ("ras", 17, 1719), ("tns", 6, 1521), ("tftp", 17, 69),
            ("rtsp", 6, 554), ("rtsp", 6, 7070), ("rtsp", 6, 8554), ("ftp", 6, 21), ("mms", 6, 1863),
            ("pmap", 6, 111), ("pmap", 17, 111), ("sip", 17, 5060), ("dns-udp", 17, 53), ("rsh", 6, 514),
            ("rsh", 6, 512), ("dcerpc", 6, 135), ("dcerpc", 17, 135), ("mgcp", 17, 2427), ("mgcp", 17, 2727)]
"""The factory session-helper table (F16, inferred order): ``sip`` is entry 13."""


def _vip(name: str, proto: str, ext: str, mapped: str, ip: str) -> dict[str, Any]:
    return {"name": name, "q_origin_key": name, "id": 0, "type": "static-nat", "extintf": "wan1",
            "extip": "0.0.0.0",  # noqa: S104 - F8: the WAN interface's own address
            "mappedip": [{"range": ip, "q_origin_key": ip}], "portforward": "enable",
            "protocol": proto, "extport": ext, "mappedport": mapped, "comment": "", "arp-reply": "enable"}


def _policy(pid: int, name: str, dst: str) -> dict[str, Any]:
    return {"policyid": pid, "q_origin_key": pid, "name": name, "status": "enable",
            "srcintf": [{"name": "wan1", "q_origin_key": "wan1"}],
            "dstintf": [{"name": "internal", "q_origin_key": "internal"}],
            "srcaddr": [{"name": "all", "q_origin_key": "all"}], "dstaddr": [{"name": dst, "q_origin_key": dst}],
            "action": "accept", "schedule": "always", "service": [{"name": "ALL", "q_origin_key": "ALL"}],
            "nat": "disable", "comments": ""}


SCENARIOS: dict[str, dict[str, Any]] = {
    "office": {},
    "rules": {"vips": [_vip("nas-https", "tcp", "443", "443", "192.168.1.20")],
              "policies": [_policy(2, "nas-https", "nas-https")]},
    "pbx": {"vips": [_vip("pbx-sip", "udp", "5060", "5060", "192.168.1.10")],
            "policies": [_policy(2, "pbx-sip", "pbx-sip")]},
}


def _stamp(obj: dict[str, Any]) -> dict[str, Any]:
    """Entries of the tables inside a stored object get ``q_origin_key`` (their key as stored), as FortiOS serves
    them (inferred from the served shape, F4)."""
    for value in obj.values():
        for entry in value if isinstance(value, list) else []:
            if isinstance(entry, dict):
                key = entry.get("id", entry.get("name", entry.get("range")))
                if key is not None:
                    entry["q_origin_key"] = key
    return obj


class FortiGate:
    """The device model: configuration tables, monitor data and the request handler."""

    def __init__(self, *, token: str = SIM_TOKEN, scenario: str = "office") -> None:
        self.token = token
        self.token_valid = True
        chosen = SCENARIOS[scenario]
        outbound = {**_policy(1, "lan-to-wan", "all"), "srcintf": [{"name": "internal", "q_origin_key": "internal"}],
                    "dstintf": [{"name": "wan1", "q_origin_key": "wan1"}], "nat": "enable"}
        self.tables: dict[str, list[dict[str, Any]]] = {
            "firewall/vip": copy.deepcopy(chosen.get("vips", [])),
            "firewall/policy": [outbound, *copy.deepcopy(chosen.get("policies", []))],
            "system.dhcp/server": [{
                "id": 1, "q_origin_key": 1, "status": "enable", "interface": "internal", "lease-time": 604800,
                "default-gateway": "192.168.1.99", "netmask": "255.255.255.0", "dns-service": "default",
                "ip-range": [{"id": 1, "q_origin_key": 1, "start-ip": "192.168.1.110", "end-ip": "192.168.1.210"}],
                "reserved-address": [{"id": 1, "q_origin_key": 1, "type": "mac", "ip": "192.168.1.110",
                                      "mac": "00:04:f2:a1:b2:c3", "action": "assign", "description": "lobby phone"}],
            }],
            "system/session-helper": [{"id": i, "q_origin_key": i, "name": n, "protocol": p, "port": port}
                                      for i, (n, p, port) in enumerate(_HELPERS, start=1)],
        }
        self.settings: dict[str, Any] = {"opmode": "nat", "sip-expectation": "disable",
                                         "default-voip-alg-mode": "proxy-based", "sip-nat-trace": "enable"}
        self.leases = [{"ip": "192.168.1.111", "reserved": False, "mac": "80:5e:c0:11:22:33", "vci": "",
                        "hostname": "SIP-T46S", "expire_time": 1796000000, "status": "leased",
                        "interface": "internal", "type": "ipv4", "server_mkey": 1, "server_ipam_enabled": False},
                       {"ip": "192.168.1.210", "reserved": False, "mac": "3c:22:fb:44:55:66", "vci": "",
                        "hostname": "laptop", "expire_time": 1796000000, "status": "leased",
                        "interface": "internal", "type": "ipv4", "server_mkey": 1, "server_ipam_enabled": False}]
        self.arp = [{"ip": "192.168.1.111", "age": 12, "mac": "80:5e:c0:11:22:33", "interface": "internal"},
                    {"ip": "192.168.1.209", "age": 40, "mac": "0e:a9:5b:a3:c0:72", "interface": "internal"},
                    {"ip": "203.0.113.1", "age": 0, "mac": "00:00:5e:00:01:01", "interface": "wan1"}]
        self.status = {"model_name": "FortiGate", "model_number": "60F", "model": "FGT60F",
                       "hostname": "FGT60F-office", "log_disk_status": "available"}
        self.version, self.build, self.serial = "v7.2.8", 1639, "FGT60FTK21000000"
        self.max_requests_per_second: int | None = None
        self.ignore_writes = False
        self.refuse_write: int | None = None
        """Refuse the n-th write request (1-based) with a FortiOS error (``-651``, F5), for rollback tests."""
        self._write_requests = 0
        self.writes: list[str] = []
        """Every accepted write (``METHOD path``), in order."""
        self.http: HttpSimulator | None = None
        self.lock = threading.Lock()
        self._second = (0, 0)

    # --- state for tests ---

    def snapshot(self) -> str:
        """The configuration (tables and settings) as canonical JSON, for before/after comparisons. Session helpers
        are compared in id order: each is found by protocol and port, their order means nothing (F16, inferred)."""
        tables = {**self.tables, "system/session-helper": sorted(self.tables["system/session-helper"],
                                                                 key=lambda h: int(h["id"]))}
        return json.dumps([tables, self.settings], sort_keys=True)

    # --- handler ---

    def _reply(self, status: int, results: Any = None, *, path: str = "", name: str = "", method: str = "GET",
               **extra: Any) -> SimResponse:
        body: dict[str, Any] = {"http_method": method, "vdom": "root", "path": path, "name": name,
                                "status": "success" if status == 200 else "error", "http_status": status,
                                "serial": self.serial, "version": self.version, "build": self.build, **extra}
        if results is not None:
            body["results"] = results
        return SimResponse(status, json.dumps(body), content_type="application/json")

    def handle(self, req: SimRequest) -> SimResponse:
        """Answer one HTTP request."""
        with self.lock:
            if self.max_requests_per_second is not None:
                now = int(time.monotonic())
                second, count = self._second
                self._second = (now, count + 1 if second == now else 1)
                if self._second[1] > self.max_requests_per_second:
                    return self._reply(429, method=req.method)
            if "access_token" in req.query_params():
                return self._reply(401, method=req.method)
            if not self.token_valid or req.headers.get("authorization", "") != f"Bearer {self.token}":
                return self._reply(401, method=req.method)
            vdom = req.query_params().get("vdom", "root")
            if vdom != "root":
                return self._reply(404, method=req.method)
            if not req.path.startswith("/api/v2/"):
                return SimResponse(404, "<html><body>404 Not Found</body></html>")
            if req.method != "GET":
                self._write_requests += 1
                if self._write_requests == self.refuse_write:
                    return self._reply(500, method=req.method, error=-651)
            kind, _, rest = req.path[len("/api/v2/"):].partition("/")
            if kind == "monitor" and req.method == "GET":
                return self._monitor(rest)
            if kind == "cmdb":
                return self._cmdb(req, rest.rstrip("/"))
            return self._reply(404, method=req.method)

    def _monitor(self, rest: str) -> SimResponse:
        path, _, name = rest.partition("/")
        if rest == "system/status":
            return self._reply(200, dict(self.status), path=path, name=name)
        if rest == "system/dhcp":
            return self._reply(200, copy.deepcopy(self.leases), path=path, name=name)
        if rest == "network/arp":
            return self._reply(200, copy.deepcopy(self.arp), path=path, name=name)
        return self._reply(404, path=path, name=name)

    def _body(self, req: SimRequest) -> dict[str, Any] | None:
        try:
            data = json.loads(req.body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def _cmdb(self, req: SimRequest, rest: str) -> SimResponse:
        parts = rest.split("/")
        if len(parts) < 2:
            return self._reply(404, method=req.method)
        path, name = parts[0], parts[1]
        table, mkey = f"{path}/{name}", "/".join(parts[2:])
        meta = {"path": path, "name": name, "method": req.method}
        if table == "system/settings":
            return self._settings(req, meta)
        if table not in TABLES:
            return self._reply(404, **meta)
        rows, key = self.tables[table], TABLES[table]
        found = next((r for r in rows if str(r[key]) == mkey), None) if mkey else None
        if req.method == "GET":
            if mkey:
                return self._reply(200, [copy.deepcopy(found)], **meta) if found else self._reply(404, **meta)
            return self._reply(200, copy.deepcopy(rows), **meta)
        if mkey and found is None:
            return self._reply(404, **meta)
        body = self._body(req) if req.method in ("POST", "PUT") else {}
        if body is None:
            return self._reply(400, error=-1, **meta)
        if req.method == "POST" and not mkey:
            return self._create(table, rows, key, body, meta)
        if req.method == "PUT" and found is not None:
            if any(k == key and str(v) != mkey for k, v in body.items()):
                return self._reply(400, error=-1, **meta)
            if not self.ignore_writes:
                found.update(_stamp(copy.deepcopy(body)))
                self.writes.append(f"PUT {table}/{mkey}")
            return self._reply(200, mkey=found[key], **meta)
        if req.method == "DELETE" and found is not None:
            if table == "firewall/vip" and any(
                    any(a.get("name") == mkey for a in p.get("dstaddr", [])) for p in self.tables["firewall/policy"]):
                return self._reply(500, error=-23, **meta)  # F6: the entry is used by a policy
            if not self.ignore_writes:
                rows.remove(found)
                self.writes.append(f"DELETE {table}/{mkey}")
            return self._reply(200, mkey=found[key], **meta)
        return self._reply(405, **meta)

    def _create(self, table: str, rows: list[dict[str, Any]], key: str, body: dict[str, Any],
                meta: dict[str, Any]) -> SimResponse:
        value = body.get(key)
        if table == "firewall/policy" and value in (None, 0):
            value = max([0, *(int(r["policyid"]) for r in rows)]) + 1
        if value in (None, "") or isinstance(value, bool):
            return self._reply(500, error=-651, **meta)  # F5: a required field is missing
        if any(str(r[key]) == str(value) for r in rows):
            return self._reply(500, error=-5, **meta)  # F6: a duplicate entry
        if table == "firewall/policy":
            for ref in body.get("dstaddr", []):
                known = {v["name"] for v in self.tables["firewall/vip"]} | {"all"}
                if not isinstance(ref, dict) or ref.get("name") not in known:
                    return self._reply(424, error=-3, **meta)  # F6: an entry the policy names does not exist
        if not self.ignore_writes:
            rows.append(_stamp({**copy.deepcopy(body), key: value, "q_origin_key": value}))
            self.writes.append(f"POST {table}")
        return self._reply(200, mkey=value, **meta)

    def _settings(self, req: SimRequest, meta: dict[str, Any]) -> SimResponse:
        if req.method == "GET":
            return self._reply(200, dict(self.settings), **meta)
        if req.method != "PUT":
            return self._reply(405, **meta)
        body = self._body(req)
        if body is None:
            return self._reply(400, error=-1, **meta)
        mode = body.get("default-voip-alg-mode")
        if mode is not None and mode not in ("proxy-based", "kernel-helper-based"):
            return self._reply(500, error=-651, **meta)
        if not self.ignore_writes:
            self.settings.update(body)
            self.writes.append("PUT system/settings")
        return self._reply(200, **meta)


@contextmanager
def simulate(scenario: str = "office", *, token: str = SIM_TOKEN, password: str | None = None, tls: bool = True,
             **_: Any) -> Iterator[SimulatedDevice]:
    """Run a simulated FortiGate REST API on 127.0.0.1 over HTTPS (pinned self-signed certificate). ``password``
    is another name for ``token`` (the API token is the driver's password); ``tls=False`` serves plain HTTP, for
    test matrices where the handshakes cost more than they prove (a real FortiGate serves HTTPS)."""
    token = password if password is not None else token
    device = FortiGate(scenario=scenario, token=token)
    with HttpSimulator(device.handle, tls=tls, server_header="xxxxxxxx-xxxxx") as server:
        device.http = server
        trust: dict[str, Any] = {"tls_fingerprint": server.fingerprint} if tls else {"scheme": "http"}
        yield SimulatedDevice(driver="fortigate", host="127.0.0.1", port=server.port, username="api-admin",
                              password=token, options={**trust, "lan_interface": "internal"},
                              description=f"FortiGate 60F FortiOS 7.2 ({scenario}) at {server.url}", handle=device)
