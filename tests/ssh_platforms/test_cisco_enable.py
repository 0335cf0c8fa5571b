"""Field report 5: a wrong or missing enable secret is an authentication failure at once (exit 3), on one login,
never retried (IOS answers a wrong enable password with ``Password:`` again: docs/facts/cisco_ios.md)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

import routerfix
from routerfix.cli import exit_code_for
from routerfix.driver import Timeouts
from routerfix.errors import AuthenticationError

SLOW = Timeouts(connect=10, read=40, apply=40)
"""A read timeout far above what the answer needs: waiting it out would show."""
FAST_ENOUGH = SLOW.read / 4
"""Well under the read timeout, with room for a loaded CI machine (an idle one answers in about a second)."""


def _open(device: Any, **options: Any) -> Any:
    return routerfix.connect(device.driver, device.host, timeouts=SLOW, **device.connect_options(), **options)


def test_wrong_enable_secret_fails_fast_on_one_login(sim: Any) -> None:
    with sim("cisco_ios", privilege=1) as device:
        started = time.monotonic()
        with pytest.raises(AuthenticationError) as caught:
            _open(device, enable_secret="not-the-secret")
        assert time.monotonic() - started < FAST_ENOUGH, "waited out the read timeout"
        assert device.handle.device.logins == 1, "retried: the enable secret was tried on more than one login"
        assert exit_code_for(caught.value) == 3
        assert "not-the-secret" not in str(caught.value)
        sent = device.handle.device.commands
        assert sent.count("not-the-secret") == 1, "the secret was sent more than once (accounts lock)"


def test_missing_enable_password_on_the_device_is_an_authentication_failure(sim: Any) -> None:
    with sim("cisco_ios", privilege=1) as device:
        device.handle.router.enable_secret = None
        started = time.monotonic()
        with pytest.raises(AuthenticationError) as caught:
            _open(device)
        assert time.monotonic() - started < FAST_ENOUGH, "waited out the read timeout"
        assert device.handle.device.logins == 1
        # the device's own answer ("% No password set"); the word may be masked when an earlier test in this
        # process registered "password" as a secret (every registered secret is masked in every message)
        assert re.search(r"% No \S+ set", str(caught.value)), str(caught.value)


def test_right_enable_secret_still_enables(sim: Any) -> None:
    with sim("cisco_ios", privilege=1) as device, _open(device) as driver:
        assert driver.session.last_prompt == "R1#"
