"""FortiGate over the FortiOS REST API (``https://<fgt>/api/v2/...``, JSON, an API token).

Facts: ``docs/facts/fortigate.md`` (rows ``F<n>``). The token of a REST API administrator travels in
``Authorization: Bearer <token>`` on every request (F1, F2); there is no session to log in to or out of, so the
"login" checks the token once on ``monitor/system/status`` (F3). A forward is a port-forwarding VIP with the WAN as
``extintf`` plus an accept policy from the WAN to that VIP (F7-F10): one VIP per protocol, so the planner asks for
a TCP and a UDP rule. The reservation goes into the LAN DHCP server's ``reserved-address`` table (F11, F12); SIP ALG
is the VoIP mode plus the ``sip`` session helper (F15-F17). Every write is one request; a write whose answer was
lost is settled by reading the object back before it is sent again (``HttpSession.guarded_write``).
"""

from __future__ import annotations

import copy
import json
import logging
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.errors import AuthenticationError, DeviceError, InvalidValue, ParseError, RouterfixError
from routerfix.model import (
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Protocol,
    Reservation,
    check_device_name,
)
from routerfix.secrets import Secret, register
from routerfix.transport.http import HttpServerError

from .parser import (
    SIP_HELPER,
    Envelope,
    ServerScope,
    dhcp_scope,
    forwards,
    leases,
    neighbours,
    parse_envelope,
    sip_alg_on,
)

__all__ = ["FortigateDriver"]

log = logging.getLogger("routerfix.drivers.fortigate")

API = "/api/v2"
VIP = "cmdb/firewall/vip"
POLICY = "cmdb/firewall/policy"
DHCP = "cmdb/system.dhcp/server"
SETTINGS = "cmdb/system/settings"
HELPERS = "cmdb/system/session-helper"
LEASES = "monitor/system/dhcp"
ARP = "monitor/network/arp"
STATUS = "monitor/system/status"
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 - F8: a VIP on the WAN interface's own (dynamic) address
SIP_HELPER_ID = 13
"""The factory id of the ``sip`` session helper (F16, inferred), used again when the helper is put back."""
_ANSWERED = (200, 400, 401, 403, 404, 405, 424, 429, 500)
"""Statuses whose JSON body names the refusal (F5); a 5xx without one is a transport fault."""


class FortigateDriver(WebDriver):
    """FortiGate firewalls (FortiOS 6.2+). ``password`` is the REST API administrator's token. Options: the HTTP
    options plus ``vdom`` (default: the token's own), ``wan_interface`` (default ``wan1``) and ``lan_interface``
    (default: the interface of the only enabled DHCP server)."""

    name: ClassVar[str] = "fortigate"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.SIP_ALG}),
        max_forwards=None, forward_ranges=True, forward_both=False, orders_rules=False,
        notes=("FortiOS has no NAT filtering setting; a forward is a VIP plus a WAN-to-LAN accept policy",
               "configuration backup/restore over the API reboots the unit: not used, each change is undone "
               "by its inverse"))
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"vdom", "wan_interface", "lan_interface"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "vdom": "virtual domain to work in (default: the API token's own)",
        "wan_interface": "external interface of the VIPs and source of their policies (default wan1)",
        "lan_interface": "interface whose DHCP server is the LAN scope, destination of the policies (default: that "
                         "of the only enabled DHCP server)",
    }

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key in ("vdom", "wan_interface", "lan_interface"):
            value = self.options.get(key)
            if value is not None:
                check_device_name(value, key)
        self.vdom: str | None = self.options.get("vdom")
        self.wan: str = self.options.get("wan_interface") or "wan1"
        self.lan: str | None = self.options.get("lan_interface")
        self._status: dict[str, Any] = {}
        self._read: dict[str, Any] = {}
        """Answers read in this session, by path, since the last write to that table (the write hooks build on
        them; a write drops its table's, ``read_state``/``verify_state`` drop them all)."""

    # --- wire -------------------------------------------------------------------------------------

    def _params(self) -> dict[str, str] | None:
        return {"vdom": self.vdom} if self.vdom else None

    def _answer(self, text: str, status: int, page: str) -> Envelope:
        try:
            env = parse_envelope(text, page)
        except ParseError:
            if status >= 500:
                raise HttpServerError(f"{page}: the device answered HTTP {status}", status=status, host=self.host,
                                      driver=self.name) from None
            raise ParseError(page, f"the answer (HTTP {status}) is not FortiOS JSON", host=self.host,
                             driver=self.name) from None
        if status == 401:
            raise AuthenticationError("the FortiGate refused the API token (HTTP 401)", host=self.host,
                                      driver=self.name)
        if not env.ok or status != 200:
            raise DeviceError(f"{page} refused", device_message=f"HTTP {status}" +
                              (f", error {env.error}" if env.error else ""), host=self.host, driver=self.name)
        return env

    def _get(self, path: str) -> Any:
        """A table or monitor answer: from this session's reads since its last write, else fetched (and kept)."""
        if path in self._read:
            return copy.deepcopy(self._read[path])
        page = self.http.get(f"{API}/{path}", page=path, params=self._params(), ok_status=_ANSWERED,
                             headers={"Accept": "application/json"})
        results = self._answer(page.text, page.status, path).results
        self._read[path] = copy.deepcopy(results)
        return results

    def _send(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Envelope:
        self._read.pop("/".join(path.split("/")[:3]), None)  # whatever happens, that table's last read is stale
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        page = self.http.request(method, f"{API}/{path}", page=f"{method} {path}", params=self._params(),
                                 data=data, headers=headers, ok_status=_ANSWERED)
        return self._answer(page.text, page.status, f"{method} {path}")

    def _write(self, method: str, path: str, body: Mapping[str, Any] | None, *, is_done: Callable[[], bool],
               what: str) -> None:
        """One write. A ``success`` answer settles it (the engine's verification reads everything back after the
        last write); a write whose answer was lost is settled by ``is_done`` (a fresh read) before it is sent
        again."""
        answered: list[bool] = []

        def send() -> None:
            try:
                self._send(method, path, body)
            except DeviceError as exc:
                if not (method == "DELETE" and "HTTP 404" in exc.device_message):
                    raise  # F5: a DELETE answered 404 found nothing to delete: done
            answered.append(True)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or is_done(), what=what)

    def _login(self) -> None:
        """Put the token on every request (F2) and check it on ``monitor/system/status`` (F3)."""
        if self.password is None or not self.password.reveal():
            raise AuthenticationError("the FortiOS REST API needs an API token (pass it as the password)",
                                      host=self.host, driver=self.name)
        register(self.password.reveal())
        self.http.set_credentials(headers={"Authorization": Secret("Bearer " + self.password.reveal())})
        page = self.http.request("GET", f"{API}/{STATUS}", page=STATUS, params=self._params(),
                                 ok_status=_ANSWERED, headers={"Accept": "application/json"})
        env = self._answer(page.text, page.status, STATUS)
        raw = page.text
        try:
            self._status = {**(env.results if isinstance(env.results, dict) else {}),
                            **{k: v for k, v in json.loads(raw).items() if k in ("version", "build", "serial")}}
        except (ValueError, AttributeError):
            self._status = {}

    def _on_close(self) -> None:
        self._status = {}
        self._read.clear()

    # --- reads --------------------------------------------------------------------------------------

    def facts(self) -> DeviceFacts:
        """Model, firmware and host name from ``monitor/system/status`` (F3), read at login."""
        s = self._status or {}
        model = " ".join(str(s.get(k) or "") for k in ("model_name", "model_number")).strip() or "FortiGate"
        build = s.get("build")
        firmware = str(s.get("version") or "") + (f" build {build}" if isinstance(build, int) else "")
        return DeviceFacts("Fortinet", model[:64], firmware[:64], str(s.get("hostname") or "")[:64])

    def _server(self) -> ServerScope:
        return dhcp_scope(self._get(DHCP), self.lan, DHCP)

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Every VIP (F7), enabled when a policy lets traffic to it (F9)."""
        return forwards(self._get(VIP), self._get(POLICY), self.wan, VIP)

    def get_dhcp_scope(self) -> DhcpScope:
        """The LAN DHCP server's network, ranges and reservations (F11)."""
        return self._server().scope

    def list_leases(self) -> tuple[Lease, ...]:
        """``monitor/system/dhcp`` (F13)."""
        return leases(self._get(LEASES))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """``monitor/network/arp`` (F14)."""
        return neighbours(self._get(ARP))

    def get_sip_alg(self) -> bool | None:
        """VoIP ALG mode and the ``sip`` session helper (F15, F16). What routerfix does not change is logged:
        ``sip-expectation`` on (F15) and policies that carry a VoIP profile, which keep their ALG (F17)."""
        settings = self._get(SETTINGS)
        if isinstance(settings, dict) and settings.get("sip-expectation") == "enable":
            log.info("%s: sip-expectation is enable (left as it is)", self.host)
        profiled = [p.get("policyid") for p in self._policies() if p.get("voip-profile")]
        if profiled:
            log.warning("%s: policies %s carry a VoIP profile: the SIP ALG stays on for their traffic whatever the "
                        "default mode (F17); remove the profile by hand if SIP goes through them",
                        self.host, ", ".join(str(i)[:12] for i in profiled[:10]))
        return sip_alg_on(settings, self._get(HELPERS))

    def read_state(self) -> DeviceState:
        """Seven GETs: VIPs, policies, DHCP servers, settings, session helpers, leases, ARP."""
        self._read.clear()
        forwards_ = self.list_port_forwards()  # reads the policies get_sip_alg looks at too
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=self.get_sip_alg(),
                           forwards=forwards_, scope=self.get_dhcp_scope(),
                           leases=self.list_leases(), neighbours=self.list_neighbours())

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (forwards, reservations, SIP ALG), without leases and ARP."""
        self._read.clear()
        forwards_ = self.list_port_forwards()
        return DeviceState(facts=self.facts(), capabilities=self.capabilities, sip_alg=self.get_sip_alg(),
                           forwards=forwards_, scope=self.get_dhcp_scope())

    # --- writes ---------------------------------------------------------------------------------------

    def _vips(self) -> list[dict[str, Any]]:
        rows = self._get(VIP)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def _policies(self) -> list[dict[str, Any]]:
        rows = self._get(POLICY)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def _vip_body(self, forward: PortForward) -> dict[str, Any]:
        """F7, F8: a port-forwarding VIP on the WAN interface (``extip`` 0.0.0.0: the interface's own address)."""
        return {"name": forward.name, "type": "static-nat", "extintf": self.wan, "extip": ANY_ADDRESS,
                "mappedip": [{"range": str(forward.internal_address)}], "portforward": "enable",
                "protocol": forward.protocol.value, "extport": str(forward.external_ports),
                "mappedport": str(forward.internal_ports), "comment": "routerfix"}

    def _policy_body(self, forward: PortForward, lan: str) -> dict[str, Any]:
        """F9, F10: accept from the WAN to the VIP only; ``policyid`` 0 lets the unit number it."""
        return {"policyid": 0, "name": forward.name, "srcintf": [{"name": self.wan}], "dstintf": [{"name": lan}],
                "srcaddr": [{"name": "all"}], "dstaddr": [{"name": forward.name}], "action": "accept",
                "status": "enable", "schedule": "always", "service": [{"name": "ALL"}], "nat": "disable",
                "comments": "routerfix"}

    def _vip_of(self, forward: PortForward) -> dict[str, Any] | None:
        listed = forwards(self._vips(), [], self.wan, VIP)
        return next((v for v in self._vips() if any(f.ref == v.get("name") and f.key() == forward.key()
                                                     for f in listed)), None)

    def _add_port_forward(self, forward: PortForward) -> None:
        """The VIP, then its policy; a policy the unit refuses takes the VIP this call added back out, so that the
        forward lands whole or not at all (a VIP alone would read as a disabled forward no plan undoes)."""
        if forward.protocol is Protocol.BOTH:
            raise InvalidValue("protocol", "both", "'tcp' or 'udp': a FortiOS VIP carries one protocol")
        names = {v.get("name") for v in self._vips()}
        if forward.name in names and self._vip_of(forward) is None:
            raise DeviceError(f"a VIP named {forward.name} already exists with other content", host=self.host,
                              driver=self.name)
        steps: list[tuple[Callable[[], None], Callable[[], None]]] = []
        if forward.name not in names:
            steps.append((lambda: self._write("POST", VIP, self._vip_body(forward), what=f"add VIP {forward.name}",
                                              is_done=lambda: self._vip_of(forward) is not None),
                          lambda: self._write("DELETE", f"{VIP}/{_quote(forward.name)}", None,
                                              what=f"take VIP {forward.name} back out",
                                              is_done=_gone(self._vips, "name", forward.name))))
        lan = self._server().interface
        if not any(forward.name in _dst(p) for p in self._policies()):
            steps.append((lambda: self._write("POST", POLICY, self._policy_body(forward, lan),
                                              what=f"add policy {forward.name}",
                                              is_done=lambda: any(forward.name in _dst(p) for p in self._policies())),
                          _nothing))
        self._all_or_nothing(steps)

    def _all_or_nothing(self, steps: list[tuple[Callable[[], None], Callable[[], None]]],
                        check: Callable[[], bool] | None = None, what: str = "") -> None:
        """Run each ``(do, undo)`` step; when one fails, or ``check`` (a fresh read) does not show the change
        after the last, undo the steps done (newest first, best effort: a failed undo is logged, the engine's
        read-back sees what is left) and raise."""
        done: list[Callable[[], None]] = []

        def back_out() -> None:
            for back in reversed(done):
                try:
                    back()
                except RouterfixError as exc:
                    log.warning("%s: could not undo a step of a failed change (%s)", self.host, exc)

        for do, undo in steps:
            try:
                do()
            except RouterfixError:
                back_out()
                raise
            done.append(undo)
        if steps and check is not None and not check():
            back_out()
            raise DeviceError(f"{what}: the unit answered success but does not show the change (read back)",
                              host=self.host, driver=self.name)

    def _remove_port_forward(self, forward: PortForward) -> None:
        vip = self._vip_of(forward)
        if vip is None:
            return
        name = str(vip["name"])
        for policy in self._policies():
            dst = _dst(policy)
            if name not in dst:
                continue
            if dst != [name]:
                raise DeviceError(f"policy {policy.get('policyid')} sends traffic to {name} and to other "
                                  f"addresses: remove {name} from it by hand first", host=self.host, driver=self.name)
            pid = policy.get("policyid")
            self._write("DELETE", f"{POLICY}/{_quote(pid)}", None, what=f"delete policy {pid}",
                        is_done=_gone(self._policies, "policyid", pid))
        self._write("DELETE", f"{VIP}/{_quote(name)}", None, what=f"delete VIP {name}",
                    is_done=_gone(self._vips, "name", name))

    def _put_reserved(self, server: ServerScope, table: list[dict[str, Any]], want: Callable[[ServerScope], bool],
                      what: str) -> None:
        body = {"reserved-address": [{k: v for k, v in r.items() if not k.startswith("q_")} for r in table]}
        self._write("PUT", f"{DHCP}/{server.id}", body, what=what, is_done=lambda: want(self._server()))

    def _reserve_address(self, reservation: Reservation) -> None:
        server = self._server()
        if any(r.address == reservation.address and r.mac == reservation.mac for r in server.scope.reservations):
            return
        entry = {"id": _next_id(server.reserved, 1), "type": "mac", "ip": str(reservation.address),
                 "mac": reservation.mac, "action": "assign", "description": reservation.name}
        self._put_reserved(server, [*server.reserved, entry], what=f"reserve {reservation.address}",
                           want=lambda s: any(r.address == reservation.address and r.mac == reservation.mac
                                              for r in s.scope.reservations))

    def _release_address(self, reservation: Reservation) -> None:
        server = self._server()
        keep = [r for r in server.reserved if (str(r.get("ip")), str(r.get("mac", "")).lower()) !=
                (str(reservation.address), reservation.mac)]
        if len(keep) != len(server.reserved):
            self._put_reserved(server, keep, what=f"release {reservation.address}",
                               want=lambda s: not any(r.address == reservation.address and r.mac == reservation.mac
                                                      for r in s.scope.reservations))

    def _helpers(self) -> list[dict[str, Any]]:
        rows = self._get(HELPERS)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []

    def _mode(self) -> str:
        settings = self._get(SETTINGS)
        return str(settings.get("default-voip-alg-mode", "")) if isinstance(settings, dict) else ""

    def _set_sip_alg(self, enabled: bool) -> None:
        """The VoIP ALG mode, then the ``sip`` session helper(s) (F15, F16), all or nothing."""
        mode, was = ("proxy-based" if enabled else "kernel-helper-based"), self._mode()
        steps: list[tuple[Callable[[], None], Callable[[], None]]] = []
        if was != mode:
            steps.append((lambda: self._put_mode(mode), lambda: self._put_mode(was)))
        helpers = self._helpers()
        sip = [h for h in helpers if h.get("name") == SIP_HELPER]
        if enabled and not sip:
            new_id = SIP_HELPER_ID if all(h.get("id") != SIP_HELPER_ID for h in helpers) else _next_id(helpers, 1)
            added = {"id": new_id, "name": SIP_HELPER, "protocol": 17, "port": 5060}
            steps.append((lambda: self._post_helper(added), lambda: self._delete_helper(new_id)))
        for helper in sip if not enabled else []:
            kept = {k: v for k, v in helper.items() if not k.startswith("q_")}
            steps.append((lambda h=kept: self._delete_helper(h.get("id")),  # type: ignore[misc]
                          lambda h=kept: self._post_helper(h)))  # type: ignore[misc]
        # the mode alone decides what get_sip_alg reports when it is proxy-based: a mode change answered but not
        # stored would hide a deleted helper from the engine's rollback, so this change is read back here
        self._all_or_nothing(steps, check=lambda: self._mode() == mode and any(
            h.get("name") == SIP_HELPER for h in self._helpers()) is enabled, what=f"SIP ALG {mode}")

    def _put_mode(self, mode: str) -> None:
        self._write("PUT", SETTINGS, {"default-voip-alg-mode": mode}, what=f"VoIP ALG mode {mode}",
                    is_done=lambda: self._mode() == mode)

    def _post_helper(self, helper: dict[str, Any]) -> None:
        self._write("POST", HELPERS, helper, what=f"add session helper {helper.get('id')}",
                    is_done=lambda: any(h.get("id") == helper.get("id") for h in self._helpers()))

    def _delete_helper(self, hid: Any) -> None:
        self._write("DELETE", f"{HELPERS}/{_quote(hid)}", None, what=f"delete session helper {hid}",
                    is_done=_gone(self._helpers, "id", hid))


def _nothing() -> None:
    """The undo of a last step (nothing follows it that could fail)."""


def _next_id(rows: list[dict[str, Any]], first: int) -> int:
    """One more than the highest integer ``id`` of ``rows`` (``first`` when there is none)."""
    ids = [r["id"] for r in rows if isinstance(r.get("id"), int) and not isinstance(r.get("id"), bool)]
    return int(max([first - 1, *ids])) + 1


def _gone(read: Callable[[], list[dict[str, Any]]], key: str, value: Any) -> Callable[[], bool]:
    """A read-back check: no row of ``read()`` has ``key`` equal to ``value``."""
    return lambda: all(row.get(key) != value for row in read())


def _quote(mkey: Any) -> str:
    """An mkey as one URL path segment (F6: percent-encoded, ``/`` included)."""
    return urllib.parse.quote(str(mkey), safe="")


def _dst(policy: dict[str, Any]) -> list[str]:
    value = policy.get("dstaddr")
    return [str(a.get("name")) for a in value if isinstance(a, dict)] if isinstance(value, list) else []
