"""The performance hooks keep the safety steps: verification still reads back (Driver.verify_state), the Netgear
driver sends fewer requests yet still catches a change that did not land, and pipelined SSH commands return the
same outputs as one-by-one commands in one round trip."""

from __future__ import annotations

from typing import Any

import pytest

import routerfix
from routerfix.engine import _verify
from routerfix.errors import DeviceError, VerificationFailed
from routerfix.model import DeviceState
from routerfix.simulate import simulate


def test_engine_verifies_through_verify_state() -> None:
    calls: list[DeviceState] = []
    with simulate("memory") as dev, routerfix.connect("memory", dev.host, **dev.connect_options()) as router:
        original = router.verify_state

        def spy(expected: DeviceState) -> DeviceState:
            calls.append(expected)
            return original(expected)

        router.verify_state = spy  # type: ignore[method-assign]
        result = routerfix.apply_ghostcall_mitigation(router)
    assert result.status == "mitigated" and result.verified
    assert len(calls) == 1 and calls[0].forwards  # the expected state holds the new forward


@pytest.mark.parametrize(("model", "most"), [("R7000", 18), ("R7800", 17)])
def test_netgear_requests_and_verification(model: str, most: int) -> None:
    with simulate("netgear", model=model) as dev:
        server = dev.handle.server
        with routerfix.connect("netgear", dev.host, **dev.connect_options()) as router:
            result = routerfix.apply_ghostcall_mitigation(router)
        assert result.status == "mitigated"
        assert len(server.recorded()) <= most
        dev.handle.settle()
        # verification reads the device (after a reconnect the page cache is empty): a forward removed behind
        # routerfix's back fails it
        with routerfix.connect("netgear", dev.host, **dev.connect_options()) as router:
            expected = router.read_state()
            dev.handle.config.rules.clear()
            router.reconnect()
            with pytest.raises(VerificationFailed, match="missing forward"):
                _verify(router, expected)


CASES: list[tuple[str, list[str]]] = [
    ("cisco_ios", ["show version", "show ip arp", "show running-config"]),
    ("mikrotik", ["/system identity print", "/ip pool print terse without-paging"]),
    ("vyos", ["show version", "show arp", "show configuration commands"]),
    ("linux", ["uname -nr", "ip -4 -o addr show"]),
]


@pytest.mark.parametrize(("driver", "commands"), CASES)
def test_pipelined_commands_match_one_by_one(driver: str, commands: list[str]) -> None:
    with simulate(driver) as dev, routerfix.connect(driver, dev.host, **dev.connect_options()) as router:
        ssh: Any = router
        one_by_one = [ssh.send(c) for c in commands]
        before = ssh.round_trips
        assert ssh.send_pipelined(commands) == one_by_one
        assert ssh.round_trips == before + 1
        assert ssh.send(commands[0]) == one_by_one[0]  # the session is still in step afterwards


def test_pipelined_refusal_is_raised_after_every_reply() -> None:
    with simulate("cisco_ios") as dev, routerfix.connect("cisco_ios", dev.host, **dev.connect_options()) as router:
        ssh: Any = router
        with pytest.raises(DeviceError):
            ssh.send_pipelined(["show version", "show no-such-thing", "show ip arp"])
        assert "Cisco" in ssh.send("show version")  # still in step with the prompt


def test_pipelined_replies_in_small_chunks() -> None:
    commands = ["/system identity print", "/ip pool print terse without-paging", "/ip arp print terse without-paging"]
    with simulate("mikrotik") as dev, routerfix.connect("mikrotik", dev.host, **dev.connect_options()) as router:
        ssh: Any = router
        one_by_one = [ssh.send(c) for c in commands]
        dev.handle.knobs.chunk_size = 5
        dev.handle.knobs.chunk_delay = 0.001
        assert ssh.send_pipelined(commands) == one_by_one
        assert ssh.send(commands[0]) == one_by_one[0]
