#!/usr/bin/python
# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT

DOCUMENTATION = r"""
---
module: nat_mode
short_description: Set a router's NAT filtering (secure or open)
version_added: "0.1.0"
description:
  - Sets NAT filtering to C(secure) (endpoint-dependent, "Secured") or C(open) (endpoint-independent,
    "Open") through the routerfix engine - backed up, read back, put back as it was on any failure.
  - Fails on routers without such a setting.
  - For the ghost-call fix prefer M(routerfix.routerfix.ghostcall_mitigation), which applies each
    vendor's policy (a Netgear Nighthawk with several phones needs C(open) plus the SIP forward).
extends_documentation_fragment:
  - routerfix.routerfix.connection
options:
  mode:
    description:
      - The wanted NAT filtering.
    type: str
    choices: [secure, open]
    required: true
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) says whether it would be.
  diff_mode:
    support: full
    description: The NAT filtering line (and the rest of the managed configuration) before and after.
author:
  - routerfix developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Secure NAT filtering
  routerfix.routerfix.nat_mode:
    driver: netgear
    host: 192.168.1.1
    username: admin
    mode: secure
"""

RETURN = r"""
mode:
  description: NAT filtering after the run.
  returned: always
  type: str
  sample: secure
previous:
  description: NAT filtering before the run.
  returned: always
  type: str
  sample: open
commands:
  description: The change made (or planned, in check mode); empty when none.
  returned: always
  type: list
  elements: str
  sample: ["set NAT filtering open -> secure"]
before:
  description: The setting before the run.
  returned: always
  type: dict
  sample: {"mode": "open"}
after:
  description: The setting after the run (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"mode": "secure"}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.routerfix.routerfix.plugins.module_utils.routerfix_common import (  # noqa: E402
    RouterfixError,
    apply_in_steps,
    check_library,
    fail_from_error,
    make_diff,
    make_driver,
    routerfix_argument_spec,
)


def run(module):
    """Check the mode and the driver options before connecting, read the mode, set it through the routerfix
    engine (backed up, read back, rolled back on failure) when it differs, unless check mode."""
    from contextlib import ExitStack
    from dataclasses import replace

    from routerfix.actions import SetNatMode
    from routerfix.locks import device_lock
    from routerfix.model import Feature, NatMode
    from routerfix.records import DeviceKey

    wanted = NatMode.parse(module.params["mode"])
    driver = make_driver(module)   # its options are checked too: nothing was sent yet
    lock = ExitStack()
    try:
        lock.enter_context(device_lock(DeviceKey.of(driver)))   # read and write under one lock
        driver.open()
        before = driver.read_state()
        if before.nat_mode is None or Feature.NAT_MODE not in before.capabilities:
            module.fail_json(msg=f"{driver.host} has no NAT filtering setting routerfix can read", changed=False)
        changed = before.nat_mode is not wanted
        commands = [SetNatMode(wanted, before.nat_mode).describe()] if changed else []
        after = replace(before, nat_mode=wanted)
        if changed and not module.check_mode:
            after = apply_in_steps(driver, before, [[SetNatMode(wanted, before.nat_mode)]], "nat_mode")
    finally:
        driver.close()
        lock.close()
    output = dict(changed=changed, mode=after.nat_mode.value, previous=before.nat_mode.value, commands=commands,
                  before=dict(mode=before.nat_mode.value), after=dict(mode=after.nat_mode.value))
    if module._diff:
        output["diff"] = make_diff(driver.host, before, after)
    module.exit_json(**output)


def main():
    argument_spec = routerfix_argument_spec()
    argument_spec.update(mode=dict(type="str", choices=["secure", "open"], required=True))
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_library(module)   # before run() imports routerfix
    try:
        run(module)
    except RouterfixError as exc:
        fail_from_error(module, exc)


if __name__ == "__main__":
    main()
