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
  description: The changes made (or planned, in check mode).
  returned: always
  type: list
  elements: str
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
    """Compare the router's forwards of this name with the wanted one and converge."""
    from dataclasses import replace

    from routerfix.actions import same_forward
    from routerfix.model import PortForward, check_device_name, to_data

    p = module.params
    check_device_name(p["name"], "name")
    wanted = None
    if p["state"] == "present":
        wanted = PortForward(p["name"], p["protocol"], p["external_ports"], p["internal_address"],
                             p["internal_ports"])
    driver = connect(module)
    try:
        before = driver.read_state()
        mine = [f for f in before.forwards if f.name == p["name"]]
        remove = [f for f in mine if wanted is None or not same_forward(f, wanted)]
        add = wanted is not None and not any(same_forward(f, wanted) for f in mine)
        actions = ["remove forward " + f.describe() for f in remove] + (["add forward " + wanted.describe()]
                                                                        if add else [])
        after_forwards = tuple(f for f in before.forwards if f not in remove) + ((wanted,) if add else ())
        after = replace(before, forwards=after_forwards)
        if actions and not module.check_mode:
            for f in remove:
                driver.remove_port_forward(f)
            if add:
                driver.add_port_forward(wanted)
            after = driver.read_state()
            now = [f for f in after.forwards if f.name == p["name"]]
            ok = any(same_forward(f, wanted) for f in now) and len(now) == 1 if wanted else not now
            if not ok:
                module.fail_json(msg="read-back after the change does not show the wanted forward", changed=True,
                                 forwards=[to_data(f) for f in now], actions=actions)
    finally:
        driver.close()
    output = dict(changed=bool(actions), actions=actions,
                  forwards=[to_data(replace(f, ref="")) for f in after.forwards if f.name == p["name"]])
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
