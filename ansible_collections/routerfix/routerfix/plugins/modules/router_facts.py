#!/usr/bin/python
# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT

DOCUMENTATION = r"""
---
module: router_facts
short_description: Read a router's state as facts (never writes)
version_added: "0.1.0"
description:
  - Reads the device once - facts, capabilities, NAT filtering, SIP ALG, port forwards, DHCP scope,
    leases and neighbours - and returns it under C(ansible_facts.routerfix), with the phones routerfix
    recognises and whether the ghost-call mitigation is in place.
extends_documentation_fragment:
  - routerfix.routerfix.connection
attributes:
  check_mode:
    support: full
    description: The module never writes.
  diff_mode:
    support: none
    description: Nothing changes.
author:
  - routerfix developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read every router
  routerfix.routerfix.router_facts:
  register: router

- name: Show which sites are not mitigated yet
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ ansible_facts.routerfix.mitigated }}"
"""

RETURN = r"""
ansible_facts:
  description: The device state under the key C(routerfix).
  returned: always
  type: dict
  contains:
    routerfix:
      description: facts, capabilities, nat_mode, sip_alg, forwards, scope, leases, neighbours, phones,
        mitigated (routerfix's forwards are present) and transport_security.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.routerfix.routerfix.plugins.module_utils.routerfix_common import (  # noqa: E402
    RouterfixError,
    check_library,
    connect,
    fail_from_error,
    routerfix_argument_spec,
)


def run(module):
    """Read the state and return it as facts."""
    import routerfix
    from routerfix.model import to_data
    from routerfix.planner import RULE_PREFIX

    driver = connect(module)
    try:
        state = driver.read_state()
        security = driver.transport_security
    finally:
        driver.close()
    data = to_data(state)
    for f in data["forwards"]:
        f.pop("ref", None)
    data["phones"] = [to_data(p) for p in routerfix.find_phones(state)]
    data["mitigated"] = any(f.name.startswith(RULE_PREFIX) for f in state.forwards)
    data["transport_security"] = security
    module.exit_json(changed=False, ansible_facts=dict(routerfix=data))


def main():
    module = AnsibleModule(argument_spec=routerfix_argument_spec(), supports_check_mode=True)
    check_library(module)   # before run() imports routerfix
    try:
        run(module)
    except RouterfixError as exc:
        fail_from_error(module, exc)


if __name__ == "__main__":
    main()
