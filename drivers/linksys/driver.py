"""Linksys Smart Wi-Fi / Velop routers over JNAP (``POST /JNAP/``, JSON).

Facts: ``docs/facts/linksys.md`` (rows ``L<n>``). Credentials travel on every call (``X-JNAP-Authorization``,
L3), so there is no admin session to hold or log out of; the password is checked once with
``core/CheckAdminPassword`` (L7). The state is read in one ``core/Transaction`` (L4). Forward lists and LAN
settings are replaced whole by their ``Set`` actions (L10, L14), so every write is read-modify-write of a fresh
read. A write whose reply lists ``sideEffects`` (``DeviceRestart``, L15) is followed by polling
``core/GetDeviceInfo`` until the router answers again, within ``timeouts.apply``, the pause between polls
doubling from ``poll_interval`` up to four times it.

JNAP answers every write with its result (``OK`` or the refusal's name), so a write answered ``OK`` is not
read back on its own: the engine's verification reads everything compared back in one ``core/Transaction``
after the last write and rolls back on a mismatch. A write whose answer was lost is settled by reading the
device before it is sent again.

Inside :meth:`LinksysDriver.write_batch` the writes are held (the latest ``Set`` body per action, later
read-modify-writes of the same batch building on the held bodies) and sent together, as one
``core/Transaction``, when the block ends. What a real router does with the other inner ``Set`` actions when one
is refused is not known (L4, inferred), so any refusal is reported as a refusal of the whole batch and the engine
re-reads and rolls back whatever landed; ``sideEffects`` are honoured wherever they appear (on the
transaction's own reply, where Linksys's app reads them, or on an inner reply).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from routerfix.base.web import HTTP_OPTION_NAMES, WebDriver
from routerfix.enums import ActionKind
from routerfix.errors import (
    AuthenticationError,
    DeviceError,
    InvalidValue,
    ParseError,
    RouterfixError,
    TransportError,
)
from routerfix.model import (
    Backup,
    Capabilities,
    DeviceFacts,
    DeviceState,
    DhcpScope,
    Feature,
    Lease,
    Neighbour,
    PortForward,
    Reservation,
)
from routerfix.retry import retry_transient
from routerfix.secrets import Secret, register

from .parser import (
    JnapReply,
    RuleTable,
    action_url,
    forward_to_rule,
    parse_alg,
    parse_devices,
    parse_lan_settings,
    parse_leases,
    parse_reply,
    parse_rules,
    parse_transaction,
    reservation_to_json,
)

__all__ = ["LinksysDriver"]

log = logging.getLogger("routerfix.drivers.linksys")

SINGLE = "firewall/GetSinglePortForwardingRules"
RANGE = "firewall/GetPortRangeForwardingRules"
LAN = "router/GetLANSettings"
_READS = ("core/GetDeviceInfo", SINGLE, RANGE, LAN, "router/GetDHCPClientLeases", "devicelist/GetDevices",
          "firewall/GetALGSettings")
_SET = {SINGLE: "firewall/SetSinglePortForwardingRules", RANGE: "firewall/SetPortRangeForwardingRules"}
_TABLE = {SINGLE: RuleTable.SINGLE, RANGE: RuleTable.RANGE}
_LAN_SET_KEYS = ("ipAddress", "networkPrefixLength", "hostName", "isDHCPEnabled", "dhcpSettings")
TRANSACTION = "core/Transaction"
PASSWORD_REFUSALS = frozenset({"_ErrorUnauthorized", "ErrorInvalidAdminPassword", "ErrorPasswordCheckDelayed",
                               "ErrorAdminAccountLocked"})
"""Results that mean the router refused the admin password (facts: linksys L5, L7): never retried."""


def _get_of(set_action: str) -> str:
    """``firewall/SetALGSettings`` → ``firewall/GetALGSettings``: the read that shows a ``Set``."""
    return set_action.replace("/Set", "/Get", 1)


def _holds(set_action: str, output: dict[str, Any], body: dict[str, Any]) -> bool:
    """True when ``output`` (the matching ``Get``) shows ``body`` stored. LAN settings are compared by their
    reservations only, as a single ``SetLANSettings`` is (the router may normalise the other fields)."""
    if set_action == "router/SetLANSettings":
        dhcp = output.get("dhcpSettings")
        return isinstance(dhcp, dict) and dhcp.get("reservations", []) == \
            body["dhcpSettings"].get("reservations", [])
    return all(output.get(k) == v for k, v in body.items())


class LinksysDriver(WebDriver):
    """Linksys JNAP routers. Options: the HTTP options plus ``restart_wait`` (seconds before polling after a
    ``DeviceRestart``, default 20) and ``poll_interval`` (default 2)."""

    name: ClassVar[str] = "linksys"
    capabilities = Capabilities(
        features=frozenset({Feature.PORT_FORWARD, Feature.FORWARD_TO_UNUSED, Feature.DHCP_SCOPE, Feature.LEASES,
                            Feature.NEIGHBOURS, Feature.DHCP_RESERVATION, Feature.SIP_ALG, Feature.BACKUP}),
        max_forwards=None, forward_ranges=True, forward_both=True, orders_rules=False,
        notes=("JNAP has no NAT filtering setting and no way to clear connection tracking",))
    option_names: ClassVar[frozenset[str]] = HTTP_OPTION_NAMES | {"restart_wait", "poll_interval"}
    option_help: ClassVar[Mapping[str, str]] = {
        **WebDriver.option_help,
        "restart_wait": "seconds to wait after a write that restarts the router before polling it, 0-600 "
                        "(default 20)",
        "poll_interval": "first pause in seconds between those polls, doubling up to 4x, 0-600 (default 2)",
    }
    default_scheme: ClassVar[str] = "http"
    batch_kinds = frozenset({ActionKind.SET_SIP_ALG, ActionKind.ADD_FORWARD, ActionKind.REMOVE_FORWARD,
                             ActionKind.RESERVE_ADDRESS, ActionKind.RELEASE_ADDRESS})

    def __init__(self, host: str, **options: Any) -> None:
        super().__init__(host, **options)
        for key, default in (("restart_wait", 20.0), ("poll_interval", 2.0)):
            value = self.options.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 600:
                raise InvalidValue(key, value, "seconds from 0 to 600")
        self.restart_wait = float(self.options.get("restart_wait", 20.0))
        self.poll_interval = float(self.options.get("poll_interval", 2.0))
        self._auth = Secret("")
        self._fresh: dict[str, dict[str, Any]] = {}
        """Outputs of this session's last read, by action, each used at most once as the "read" of a
        read-modify-write (saves a request right after ``read_state``); dropped on any write."""
        self._sent = 0
        """Writes sent in this session."""
        self._last: dict[str, dict[str, Any]] = {}
        self._last_at = -1
        """Outputs of this session's last transaction and the write count it was read at."""
        self._held: dict[str, dict[str, Any]] | None = None
        """Inside :meth:`write_batch`: the latest body per ``Set`` action, in the order first held; else None."""
        self._held_what: list[str] = []
        """What the held writes do (for logs and errors)."""
        self._pending: dict[str, dict[str, Any]] = {}
        """Inside :meth:`write_batch`: per ``Get`` action, its output as it will read once the held writes
        land (what a later read-modify-write of the same batch builds on, instead of reading the device)."""

    # --- wire -------------------------------------------------------------------------------------

    def _post(self, action: str, body: Any, *, auth: bool = True, timeout: float | None = None) -> str:
        headers = {"X-JNAP-Action": action_url(action), "Content-Type": "application/json; charset=UTF-8",
                   "Accept": "application/json"}
        if auth:
            headers["X-JNAP-Authorization"] = self._auth.reveal()
        page = self.http.post("/JNAP/", json.dumps(body), page=action, headers=headers, timeout=timeout)
        return page.text

    def _call(self, action: str, body: Any = None, *, read: bool = False) -> JnapReply:
        def once() -> JnapReply:
            return parse_reply(self._post(action, {} if body is None else body), action)

        reply = retry_transient(once) if read else once()
        self._check(reply, action)
        return reply

    def _check(self, reply: JnapReply, action: str) -> None:
        if reply.ok:
            return
        if reply.result in PASSWORD_REFUSALS:
            raise AuthenticationError("the router refused the admin password", host=self.host, driver=self.name)
        raise DeviceError(f"{action} refused", device_message=f"{reply.result}" + (f": {reply.error}"
                                                                                   if reply.error else ""),
                          host=self.host, driver=self.name)

    def _login(self) -> None:
        """Check the password (``core/CheckAdminPassword``); JNAP has no session to log out of."""
        if self.password is None:
            raise AuthenticationError("JNAP needs the admin password", host=self.host, driver=self.name)
        token = base64.b64encode(f"admin:{self.password.reveal()}".encode()).decode()
        register(token)
        register(json.dumps(self.password.reveal())[1:-1])  # as it appears inside the JSON body
        self._auth = Secret("Basic " + token)
        try:  # L7: the body carries the password as Linksys's app sends it
            reply = parse_reply(self._post("core/CheckAdminPassword", {"adminPassword": self.password.reveal()}),
                                "core/CheckAdminPassword")
        except DeviceError as exc:
            raise ParseError("/JNAP/", f"the router does not answer JNAP ({exc.device_message or exc.message}); "
                                       f"not a JNAP firmware?", host=self.host, driver=self.name) from None
        self._check(reply, "core/CheckAdminPassword")

    def _transaction(self, actions: tuple[str, ...]) -> dict[str, dict[str, Any]]:
        body = [{"action": action_url(a), "request": {}} for a in actions]

        def once() -> tuple[JnapReply, list[JnapReply]]:
            return parse_transaction(self._post("core/Transaction", body), len(actions))

        outer, replies = retry_transient(once)
        self._check(outer, "core/Transaction")
        out = {}
        for action, reply in zip(actions, replies, strict=True):
            self._check(reply, action)
            out[action] = reply.output
        self._fresh = {k: copy.deepcopy(v) for k, v in out.items()}
        self._last, self._last_at = {k: copy.deepcopy(v) for k, v in out.items()}, self._sent
        return out

    def _read_for_write(self, action: str) -> dict[str, Any]:
        """The output of ``action`` for a read-modify-write: from the last read if unused, else fetched. Inside
        :meth:`write_batch`: as it will read once the held writes land (read from the device at most once)."""
        if self._held is not None and action in self._pending:
            return copy.deepcopy(self._pending[action])
        cached = self._fresh.pop(action, None)
        output = cached if cached is not None else self._call(action, read=True).output
        if self._held is not None:
            self._pending[action] = copy.deepcopy(output)
        return output

    # --- reads --------------------------------------------------------------------------------------

    @staticmethod
    def _facts(info: dict[str, Any]) -> DeviceFacts:
        model = " ".join(str(info.get(k) or "") for k in ("modelNumber",)).strip()
        hw = info.get("hardwareVersion")
        return DeviceFacts(str(info.get("manufacturer") or "Linksys"), model + (f" v{hw}" if hw else ""),
                           str(info.get("firmwareVersion") or ""), str(info.get("description") or ""))

    def _forwards(self, single: dict[str, Any], ranged: dict[str, Any]) -> tuple[PortForward, ...]:
        return tuple(parse_rules(single, RuleTable.SINGLE, SINGLE)[1] + parse_rules(ranged, RuleTable.RANGE, RANGE)[1])

    def facts(self) -> DeviceFacts:
        """Model and firmware from ``core/GetDeviceInfo``."""
        return self._facts(self._call("core/GetDeviceInfo", read=True).output)

    def list_port_forwards(self) -> tuple[PortForward, ...]:
        """Single-port rules (``ref`` ``single:i``) then port-range rules (``range:i``)."""
        data = self._transaction((SINGLE, RANGE))
        return self._forwards(data[SINGLE], data[RANGE])

    def get_dhcp_scope(self) -> DhcpScope:
        """LAN network, DHCP pool and reservations."""
        return parse_lan_settings(self._call(LAN, read=True).output)

    def list_leases(self) -> tuple[Lease, ...]:
        """DHCP leases."""
        return tuple(parse_leases(self._call("router/GetDHCPClientLeases", read=True).output))

    def list_neighbours(self) -> tuple[Neighbour, ...]:
        """Connected devices from ``devicelist/GetDevices``."""
        return tuple(parse_devices(self._call("devicelist/GetDevices", read=True).output))

    def get_sip_alg(self) -> bool | None:
        """``isSIPEnabled``."""
        return parse_alg(self._call("firewall/GetALGSettings", read=True).output)

    def read_state(self) -> DeviceState:
        """Everything in one ``core/Transaction``."""
        d = self._transaction(_READS)
        return DeviceState(facts=self._facts(d["core/GetDeviceInfo"]), capabilities=self.capabilities,
                           sip_alg=parse_alg(d["firewall/GetALGSettings"]),
                           forwards=self._forwards(d[SINGLE], d[RANGE]), scope=parse_lan_settings(d[LAN]),
                           leases=tuple(parse_leases(d["router/GetDHCPClientLeases"])),
                           neighbours=tuple(parse_devices(d["devicelist/GetDevices"])))

    def verify_state(self, expected: DeviceState) -> DeviceState:
        """What verification compares (forward lists, LAN settings with the reservations, SIP ALG), read in one
        ``core/Transaction`` after the last write, without leases and devices."""
        d = self._transaction(("core/GetDeviceInfo", SINGLE, RANGE, LAN, "firewall/GetALGSettings"))
        return DeviceState(facts=self._facts(d["core/GetDeviceInfo"]), capabilities=self.capabilities,
                           sip_alg=parse_alg(d["firewall/GetALGSettings"]),
                           forwards=self._forwards(d[SINGLE], d[RANGE]), scope=parse_lan_settings(d[LAN]))

    def backup(self) -> Backup:
        """Forward lists, LAN settings and ALG settings as JSON: from this session's last transaction when no
        write was sent since (the one ``read_state`` just made), else read in one."""
        wanted = (SINGLE, RANGE, LAN, "firewall/GetALGSettings")
        if self._last_at == self._sent and all(k in self._last for k in wanted):
            d = self._last
        else:
            d = self._transaction(wanted)
        data = {"single": d[SINGLE]["rules"], "range": d[RANGE]["rules"],
                "lan": {k: d[LAN][k] for k in _LAN_SET_KEYS}, "alg": d["firewall/GetALGSettings"]}
        return Backup(self.name, "jnap-json", json.dumps(data), time.time())

    # --- writes ---------------------------------------------------------------------------------------

    def _wait_back(self, effects: tuple[str, ...]) -> None:
        """After ``DeviceRestart``: wait, then poll ``core/GetDeviceInfo`` until the router answers."""
        if "DeviceRestart" not in effects:
            return
        deadline = time.monotonic() + self.timeouts.apply
        time.sleep(min(self.restart_wait, self.timeouts.apply))
        pause = self.poll_interval
        while True:
            try:
                reply = parse_reply(self._post("core/GetDeviceInfo", {}, auth=False), "core/GetDeviceInfo")
                if reply.ok:
                    return
            except (TransportError, ParseError):
                pass
            if time.monotonic() >= deadline:
                raise TransportError(f"the router did not come back within {self.timeouts.apply:g}s after "
                                     f"restarting to apply a change", host=self.host, driver=self.name)
            time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, self.poll_interval * 4)

    def _set(self, action: str, body: dict[str, Any], is_done: Callable[[], bool], what: str) -> None:
        """Send one ``Set`` action (held instead inside :meth:`write_batch`). An ``OK`` answer settles it
        (verification reads it back later); a send that failed is settled by ``is_done`` (a fresh read) before
        it is sent again."""
        if self._held is not None:
            self._held[action] = copy.deepcopy(body)  # a later body for the same action replaces it in place
            get = _get_of(action)
            self._pending[get] = {**self._pending.get(get, {}), **copy.deepcopy(body)}
            self._held_what.append(what)
            return
        answered: list[bool] = []

        def send() -> None:
            self._fresh.pop(action.replace("/Set", "/Get"), None)
            self._sent += 1
            reply = parse_reply(self._post(action, body), action)
            self._check(reply, action)
            self._wait_back(reply.side_effects)
            answered.append(True)

        self.http.guarded_write(send, is_done=lambda: bool(answered) or is_done(), what=what)

    @contextlib.contextmanager
    def write_batch(self) -> Iterator[None]:
        """Hold the writes of the block and send them, when it ends, as ONE ``core/Transaction`` (the held
        ``Set`` actions in the order first held). An exception inside the block drops them: nothing is sent.

        The send is never blindly repeated: a send whose answer was lost is settled by reading every held
        action back (one ``core/Transaction``) before it is sent again. Each body replaces a whole list or
        settings object, so sending it again after part of it landed adds nothing twice."""
        if self._held is not None:  # already inside a batch: the outer one sends
            yield
            return
        self._held, self._held_what, self._pending = {}, [], {}
        try:
            yield
            held, what = self._held, "; ".join(self._held_what)
        finally:
            self._held, self._held_what, self._pending = None, [], {}
        if held:
            self._send_batch(held, what)

    def _send_batch(self, held: dict[str, dict[str, Any]], what: str) -> None:
        actions = tuple(held)
        body = [{"action": action_url(a), "request": held[a]} for a in actions]
        answered: list[bool] = []

        def send() -> None:
            for action in actions:
                self._fresh.pop(_get_of(action), None)
            self._sent += 1
            text = self._post(TRANSACTION, body)
            outer, replies = parse_transaction(text, len(actions))
            if outer.result in PASSWORD_REFUSALS:
                self._check(outer, TRANSACTION)
            # L4: a refused transaction carries its inner replies (Linksys's app looks there for the first
            # refused action); read them when present, to name the refusal and honour their side effects.
            pairs = list(zip(actions, replies, strict=True)) if outer.ok else self._inner_replies(text, actions)
            effects = outer.side_effects + tuple(e for _, r in pairs for e in r.side_effects)
            refused = next(((a, r) for a, r in pairs if not r.ok), None)
            if outer.ok and refused is None:
                self._wait_back(effects)
                answered.append(True)
                return
            # L4 (inferred): whether a real router applies the other actions of a transaction when one is refused
            # is unknown: fail safe, the whole batch is refused, and the engine re-reads and rolls back what landed.
            # A restart one of them caused is waited out first, so that the re-read finds the router up.
            try:
                self._wait_back(effects)
            except TransportError as exc:
                log.warning("%s: %s", self.host, exc)
            # no inner reply names the refusal: the transaction's own result does
            action, reply = refused if refused is not None else (TRANSACTION, outer)
            if reply.result in PASSWORD_REFUSALS:
                self._check(reply, action)
            others = len(actions) - 1 if refused is not None else len(actions)
            raise DeviceError(f"{action} refused" + (f" (sent in one {TRANSACTION} with {others} "
                                                     f"{'other ' if refused else ''}change"
                                                     f"{'s' if others > 1 else ''}, which may have landed)"
                                                     if others else ""),
                              device_message=reply.result + (f": {reply.error}" if reply.error else ""),
                              host=self.host, driver=self.name)

        def landed() -> bool:
            if answered:
                return True
            read = self._transaction(tuple(dict.fromkeys(_get_of(a) for a in actions)))
            return all(_holds(a, read[_get_of(a)], held[a]) for a in actions)

        self.http.guarded_write(send, is_done=landed, what=what)

    @staticmethod
    def _inner_replies(text: str, actions: tuple[str, ...]) -> list[tuple[str, JnapReply]]:
        """The inner replies of a transaction whose own result is not ``OK``, as far as they can be read."""
        try:
            data = json.loads(text)
        except ValueError:
            return []
        responses = data.get("responses") if isinstance(data, dict) else None
        if not isinstance(responses, list):
            return []
        out = []
        for action, response in zip(actions, responses, strict=False):
            try:
                out.append((action, parse_reply(json.dumps(response), action)))
            except ParseError:
                continue
        return out

    def _rules(self, which: str) -> list[dict[str, Any]]:
        return parse_rules(self._call(which, read=True).output, _TABLE[which], which)[0]

    def _write_rules(self, which: str, rules: list[dict[str, Any]], what: str) -> None:
        self._set(_SET[which], {"rules": rules}, lambda: self._rules(which) == rules, what)

    def _add_port_forward(self, forward: PortForward) -> None:
        rule = forward_to_rule(forward)
        which = RANGE if "firstExternalPort" in rule else SINGLE
        output = self._read_for_write(which)
        rules, _, limit = parse_rules(output, _TABLE[which], which)
        if rule in rules:
            return
        if limit is not None and len(rules) >= limit:
            raise DeviceError("the forwarding list is full", device_message=f"maxRules {limit}", host=self.host,
                              driver=self.name)
        self._write_rules(which, [rule, *rules], f"add forward {forward.name}")

    def _remove_port_forward(self, forward: PortForward) -> None:
        for which in (SINGLE, RANGE):
            output = self._read_for_write(which)
            rules, forwards, _ = parse_rules(output, _TABLE[which], which)
            keep = [r for r, f in zip(rules, forwards, strict=True) if f.key() != forward.key()]
            if len(keep) != len(rules):
                self._write_rules(which, keep, f"remove forward {forward.name}")

    def _lan_body(self) -> dict[str, Any]:
        output = self._read_for_write(LAN)
        parse_lan_settings(output)
        return {k: copy.deepcopy(output[k]) for k in _LAN_SET_KEYS}

    def _write_lan(self, body: dict[str, Any], what: str) -> None:
        want = body["dhcpSettings"].get("reservations", [])
        self._set("router/SetLANSettings", body,
                  lambda: self._call(LAN, read=True).output["dhcpSettings"].get("reservations", []) == want, what)

    def _reserve_address(self, reservation: Reservation) -> None:
        body = self._lan_body()
        current = body["dhcpSettings"].setdefault("reservations", [])
        entry = reservation_to_json(reservation)
        if entry in current:
            return
        current.append(entry)
        self._write_lan(body, f"reserve {reservation.address}")

    def _release_address(self, reservation: Reservation) -> None:
        body = self._lan_body()
        current = body["dhcpSettings"].get("reservations", [])
        keep = [r for r in current if (str(r.get("macAddress", "")).lower(), r.get("ipAddress")) !=
                (reservation.mac, str(reservation.address))]
        if len(keep) != len(current):
            body["dhcpSettings"]["reservations"] = keep
            self._write_lan(body, f"release {reservation.address}")

    def _set_sip_alg(self, enabled: bool) -> None:
        self._set("firewall/SetALGSettings", {"isSIPEnabled": enabled},
                  lambda: self.get_sip_alg() is enabled, f"SIP ALG {'on' if enabled else 'off'}")

    def _restore(self, backup: Backup) -> None:
        try:
            data = json.loads(backup.text)
            single, ranged, lan, alg = data["single"], data["range"], data["lan"], data["alg"]
        except (ValueError, KeyError, TypeError):
            raise InvalidValue("backup", backup.format, "a backup taken by this driver") from None
        errors: list[RouterfixError] = []
        steps: tuple[Callable[[], None], ...] = (lambda: self._write_rules(SINGLE, single, "restore single-port rules"),
                     lambda: self._write_rules(RANGE, ranged, "restore port-range rules"),
                     lambda: self._write_lan(lan, "restore LAN settings"),
                     lambda: self._set("firewall/SetALGSettings", alg,
                                       lambda: self._call("firewall/GetALGSettings", read=True).output == alg,
                                       "restore ALG settings"))
        for step in steps:
            try:
                step()
            except RouterfixError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
