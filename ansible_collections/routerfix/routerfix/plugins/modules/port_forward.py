#!/usr/bin/python
# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT

DOCUMENTATION = r"""
---
module: port_forward
short_description: Manage one WAN-to-LAN port forward on a router, by name
version_added: "0.1.0"
description:
  - Makes sure a port forward named I(name) exists with exactly the given protocol, ports and target
    (I(state=present)), or that no forward of that name exists (I(state=absent)).
  - A forward of that name with other settings is replaced. Forwards with other names (the
    customer's) are never touched.
  - Every parameter is checked before the router is contacted (what the router model can hold, such as
    C(both) in one rule, once it is read, before anything is written). A replacement is added first and read
    back; the old rule is removed only after that (where the router refuses two rules on the same ports,
    old and new are swapped in one verified step). Any failure puts the router back as it was.
  - The router is read back after a change; C(changed) comes from the real difference.
extends_documentation_fragment:
  - routerfix.routerfix.connection
options:
  name:
    description:
      - The rule's name on the router. 1-30 ASCII letters, digits, C(_), C(.) or C(-).
    type: str
    required: true
  state:
    description:
      - Whether the forward should exist.
    type: str
    choices: [present, absent]
    default: present
  protocol:
    description:
      - C(both) needs a router that holds TCP and UDP in one rule; otherwise use two forwards.
    type: str
    choices: [tcp, udp, both]
    default: both
  external_ports:
    description:
      - WAN port or range, for example C(5060) or C(5060-5061). Required with I(state=present).
    type: str
  internal_address:
    description:
      - LAN address the traffic goes to. Required with I(state=present).
    type: str
  internal_ports:
    description:
      - LAN port or range; defaults to I(external_ports).
    type: str
attributes:
  check_mode:
    support: full
    description: Nothing is written; C(changed) says whether it would be.
  diff_mode:
    support: full
    description: The router's forwards (and NAT/SIP ALG/sink lines) before and after.
author:
  - routerfix developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Forward WAN 8443 to the NVR
  routerfix.routerfix.port_forward:
    driver: openwrt
    host: 192.0.2.1
    username: root
    name: nvr-https
    protocol: tcp
    external_ports: "8443"
    internal_address: 192.168.1.20
    internal_ports: "443"

- name: Remove it
  routerfix.routerfix.port_forward:
    driver: openwrt
    host: 192.0.2.1
    username: root
    name: nvr-https
    state: absent
"""

RETURN = r"""
forwards:
  description: The forwards of that name on the router after the run.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "nvr-https", "protocol": "tcp", "external_ports": "8443", "internal_address": "192.168.1.20",
            "internal_ports": "443", "enabled": true}]
actions:
  description: The changes made (or planned, in check mode); the same as I(commands).
  returned: always
  type: list
  elements: str
commands:
  description: The changes made (or planned, in check mode), in the order they were written.
  returned: always
  type: list
  elements: str
  sample: ["add forward nvr-https: udp 8443 -> 192.168.1.20:443",
           "remove forward nvr-https: tcp 8443 -> 192.168.1.20:443"]
before:
  description: The forwards of that name on the router before the run.
  returned: always
  type: list
  elements: dict
after:
  description: The forwards of that name after the run (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
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


def _overlap(a, b):
    """True when the two forwards catch some of the same WAN traffic."""
    return bool(a.protocol.members() & b.protocol.members()) and a.external_ports.overlaps(b.external_ports)


def run(module):
    """Plan from the router's forwards of this name, then converge through the routerfix engine.

    Every parameter is checked before the router is contacted; what the router model can hold (protocol ``both``,
    port ranges) once it is read, before anything is written. A changed rule is added first and read back;
    only then is the old one removed (and read back); a failure at either step puts the router back as it
    was. Where the router refuses a second rule on the same ports while the old one exists, the old rule is
    removed and the new one added in one verified step, which the engine rolls back if the add fails."""
    from contextlib import ExitStack
    from dataclasses import replace

    from routerfix.actions import AddForward, RemoveForward, same_forward
    from routerfix.locks import device_lock
    from routerfix.model import PortForward, check_device_name, to_data
    from routerfix.records import DeviceKey

    p = module.params
    check_device_name(p["name"], "name")
    wanted = None
    if p["state"] == "present":
        wanted = PortForward(p["name"], p["protocol"], p["external_ports"], p["internal_address"],
                             p["internal_ports"])
    driver = make_driver(module)              # its options are checked too: nothing was sent yet
    warnings = []
    lock = ExitStack()
    try:
        lock.enter_context(device_lock(DeviceKey.of(driver)))   # plan and write under one lock
        driver.open()
        before = driver.read_state()
        if wanted is not None:   # what the router model can hold (one rule for both protocols, ranges), known now
            driver.check_port_forward(wanted)
        mine = [f for f in before.forwards if f.name == p["name"]]
        remove = [RemoveForward(f) for f in mine if wanted is None or not same_forward(f, wanted)]
        add = [AddForward(wanted)] if wanted is not None and not any(same_forward(f, wanted) for f in mine) else []
        commands = [a.describe() for a in add + remove]
        steps = [s for s in (add, remove) if s]
        after = replace(before, forwards=tuple(f for f in before.forwards if all(f is not r.forward for r in remove))
                        + ((wanted,) if add else ()))
        if steps and not module.check_mode:
            def swap_in_one_step(exc):
                if not add or not any(_overlap(r.forward, wanted) for r in remove):
                    return None
                warnings.append(f"the router refused the new rule beside the old one ({exc}); swapped them in one "
                                f"verified step instead")
                commands[:] = [a.describe() for a in remove + add]
                return [remove + add]

            after = apply_in_steps(driver, before, steps, "port_forward", fallback=swap_in_one_step)
    finally:
        driver.close()
        lock.close()
    for text in warnings:
        module.warn(text)

    def named(state):
        return [to_data(replace(f, ref="")) for f in state.forwards if f.name == p["name"]]

    output = dict(changed=bool(commands), commands=commands, actions=commands, before=named(before),
                  after=named(after), forwards=named(after))
    if module._diff:
        output["diff"] = make_diff(driver.host, before, after)
    module.exit_json(**output)


def main():
    argument_spec = routerfix_argument_spec()
    argument_spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        protocol=dict(type="str", choices=["tcp", "udp", "both"], default="both"),
        external_ports=dict(type="str"),
        internal_address=dict(type="str"),
        internal_ports=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("state", "present", ("external_ports", "internal_address"))])
    check_library(module)   # before run() imports routerfix
    try:
        run(module)
    except RouterfixError as exc:
        fail_from_error(module, exc)


if __name__ == "__main__":
    main()
