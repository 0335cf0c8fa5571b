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
    "Open"), then reads it back.
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
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.routerfix.routerfix.plugins.module_utils.routerfix_common import (  # noqa: E402
    RouterfixError,
    check_library,
    connect,
    fail_from_error,
    make_diff,
    routerfix_argument_spec,
)


def run(module):
    """Read the mode, set it when it differs (unless check mode), read back."""
    from dataclasses import replace

    from routerfix.model import NatMode

    wanted = NatMode.parse(module.params["mode"])
    driver = connect(module)
    try:
        before = driver.read_state()
        if before.nat_mode is None:
            module.fail_json(msg=f"{driver.host} has no NAT filtering setting routerfix can read", changed=False)
        changed = before.nat_mode is not wanted
        after = replace(before, nat_mode=wanted)
        if changed and not module.check_mode:
            driver.set_nat_mode(wanted)
            after = driver.read_state()
            if after.nat_mode is not wanted:
                shown = after.nat_mode.value if after.nat_mode else "unknown"
                module.fail_json(msg=f"read-back shows NAT filtering {shown}, not {wanted.value}", changed=True)
    finally:
        driver.close()
    output = dict(changed=changed, mode=after.nat_mode.value, previous=before.nat_mode.value)
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
