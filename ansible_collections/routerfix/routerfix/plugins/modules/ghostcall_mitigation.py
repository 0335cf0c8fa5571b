#!/usr/bin/python
# Copyright: (c) 2026, routerfix developers
# MIT License (see LICENSE or https://opensource.org/licenses/MIT)
# SPDX-License-Identifier: MIT

DOCUMENTATION = r"""
---
module: ghostcall_mitigation
short_description: Stop VoIP ghost calls on a router (or remove the mitigation)
version_added: "0.1.0"
description:
  - With I(state=present), forwards WAN ports 5060 and 5061, TCP and UDP, to an unused address inside the
    LAN's DHCP pool (the sink), reserves that address, sets NAT filtering as the vendor needs and turns
    SIP ALG off, then reads the router back to verify. A failed change is rolled back.
  - With I(state=absent), removes the mitigation, restoring the previous NAT mode and SIP ALG from the
    undo record of the I(state=present) run - the C(record) it returned, its record file or its I(state_dir) -
    or, with none of those, from routerfix's undo marker on the router, where the driver keeps one (Linux,
    OpenWrt).
    Without one it fails rather than undo incompletely.
  - In check mode nothing is written and the result is the plan; with C(--diff) the managed configuration
    is shown before and after. C(changed) comes from the real difference, so a second run reports
    C(changed=false).
  - When no configuration can fix the site (a router with no port forwarding, an ISP gateway that needs
    bridge mode) the module fails with the verdict, unless I(fail_on_verdict=false).
extends_documentation_fragment:
  - routerfix.routerfix.connection
options:
  state:
    description:
      - C(present) applies the mitigation, C(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  sink:
    description:
      - Use this LAN address as the sink instead of letting routerfix choose the highest free one.
    type: str
  replace_conflicting:
    description:
      - Replace an existing forward of 5060/5061 that is not routerfix's. Only if that rule is known to
        be stale (an old PBX); by default the module refuses and fails.
    type: bool
    default: false
  reserve_sink:
    description:
      - Reserve the sink in DHCP so it is never leased to a new device.
    type: bool
    default: true
  manage_nat:
    description:
      - Apply the vendor's NAT filtering policy.
    type: bool
    default: true
  sip_alg_off:
    description:
      - Turn SIP ALG off where the router has it.
    type: bool
    default: true
  flush:
    description:
      - Clear inbound connection tracking for 5060/5061 after the change, where the router can.
    type: bool
    default: true
  probe:
    description:
      - Ask the router whether anything answers at a candidate sink before using it.
    type: bool
    default: true
  max_probes:
    description:
      - How many candidate sinks to probe before giving up (0 to 64).
    type: int
    default: 8
  still_ringing:
    description:
      - The site still gets ghost calls although it was mitigated before; with nothing left to change
        this yields the verdict that the router's NAT is failing.
    type: bool
    default: false
  backup:
    description:
      - Take a configuration backup before writing, where the router can.
    type: bool
    default: true
  state_dir:
    description:
      - Directory for the undo record and the configuration backup (private files). With
        I(state=absent) and no I(record), the records of this host there are used, so the state
        before routerfix's first change comes back.
    type: path
  record:
    description:
      - 'With I(state=absent), what to undo from - the C(record) dict a I(state=present) task returned
        (C(record: "{{ result.record }}"), for AWX/Tower jobs that keep no local files), or the path of a
        saved record. With I(state=present), a path to write the undo record to when the router was changed.'
      - With I(state=absent) and neither I(record) nor a I(state_dir) holding this router's records, the undo
        marker routerfix keeps on the router is used where the driver keeps one (Linux, OpenWrt); without that
        too, the module fails (it would otherwise remove the forwards but leave NAT filtering and SIP ALG as
        they are, an incomplete undo).
    type: raw
  fail_on_verdict:
    description:
      - Fail when no configuration change can fix the site (the verdict is in the message).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The plan is computed from the router's state; nothing is written.
  diff_mode:
    support: full
    description: NAT filtering, SIP ALG, port forwards and the sink reservation before and after.
author:
  - routerfix developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Mitigate ghost calls on every customer router
  hosts: routers
  connection: local
  gather_facts: false
  module_defaults:
    group/routerfix.routerfix.routerfix:
      driver: "{{ routerfix_driver }}"
      host: "{{ ansible_host | default(inventory_hostname) }}"
      username: admin
      password: "{{ router_password }}"   # from Ansible Vault
  tasks:
    - name: Forward SIP to an unused address and fix NAT filtering
      routerfix.routerfix.ghostcall_mitigation:
        state_dir: "/var/lib/routerfix/{{ inventory_hostname }}"

- name: Remove the mitigation again (restores NAT mode and SIP ALG from the saved record)
  routerfix.routerfix.ghostcall_mitigation:
    state: absent
    state_dir: "/var/lib/routerfix/{{ inventory_hostname }}"

- name: Mitigate, keeping the undo record in the job's result (AWX keeps no local files)
  routerfix.routerfix.ghostcall_mitigation:
    state: present
  register: mitigation

- name: Undo exactly from that record, in a later job (e.g. from a saved artifact or fact)
  routerfix.routerfix.ghostcall_mitigation:
    state: absent
    record: "{{ mitigation.record }}"

- name: Pin the sink address
  routerfix.routerfix.ghostcall_mitigation:
    driver: mikrotik
    host: 192.0.2.1
    username: admin
    sink: 192.168.88.250
"""

RETURN = r"""
status:
  description: What happened (C(planned), C(unchanged), C(mitigated), C(verdict), C(undone), C(nothing_to_undo)).
  returned: always
  type: str
  sample: mitigated
sink:
  description: The unused LAN address SIP is forwarded to.
  returned: when state=present and a sink was chosen
  type: str
  sample: 192.168.1.198
actions:
  description: The changes made (or, in check mode, planned), one line each.
  returned: always
  type: list
  elements: str
  sample: ["add forward routerfix-sip: both 5060-5061 -> 192.168.1.198:5060-5061", "turn SIP ALG off"]
verdicts:
  description: Remedies no configuration change can give (replace the router, bridge mode).
  returned: always
  type: list
  elements: dict
  sample: [{"remedy": "replace_router", "reason": "this router cannot forward ports: replace it"}]
warnings_list:
  description: routerfix's warnings (also shown as Ansible warnings).
  returned: always
  type: list
  elements: str
record:
  description:
    - 'The undo record of this run (state=present, when the router was changed), or the one undone from
      (state=absent, when given as a dict). Pass it to a later I(state=absent) task as
      C(record: "{{ result.record }}"); it holds the state of the router before the change and never a credential.'
  returned: when the router was changed, or a record dict was given
  type: dict
record_file:
  description: The undo record file written (state=present) or read (state=absent).
  returned: when one was written or read
  type: str
  sample: /var/lib/routerfix/shop-12/192.0.2.1-netgear-20260101T120000-mitigate.json
saved_to:
  description: Where this run's result was saved (state=present writes the undo record; state=absent its own result
    in I(state_dir)).
  returned: always
  type: str
result:
  description: The full routerfix result (plan, device facts, NAT decision, phones found, undo records).
  returned: always
  type: dict
"""

import glob  # noqa: E402
import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.routerfix.routerfix.plugins.module_utils.routerfix_common import (  # noqa: E402
    RouterfixError,
    check_library,
    connect,
    fail_from_error,
    make_diff,
    routerfix_argument_spec,
)

# A literal, as ansible-test's validate-modules needs (it loads the module where routerfix is not installed); a unit
# test checks it against routerfix.options.MITIGATION_OPTIONS, the one table the CLI and Nornir use too.
MITIGATION_ARGUMENT_SPEC = dict(
    sink=dict(type="str"),
    replace_conflicting=dict(type="bool", default=False),
    reserve_sink=dict(type="bool", default=True),
    manage_nat=dict(type="bool", default=True),
    sip_alg_off=dict(type="bool", default=True),
    flush=dict(type="bool", default=True),
    probe=dict(type="bool", default=True),
    max_probes=dict(type="int", default=8),
    still_ringing=dict(type="bool", default=False),
    backup=dict(type="bool", default=True),
)

RECORD_HINT = 'record: "{{ result.record }}"'


def _record_source(module, value):
    """The I(record) option as the library reads it: a dict (C({{ result.record }}) from a mitigate task), a path,
    or None."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = value.strip()
        return text  # JSON text or a path (as written by a run, absolute)
    module.fail_json(msg=f"record: expected the record dict a mitigate task returned ({RECORD_HINT}) or the path of "
                         f"a saved record, got {type(value).__name__}")
    return None


def _nothing_to_undo_from(module, driver, state_dir):
    """Fail unless this host has a record chain in I(state_dir), or the router holds routerfix's undo marker, or
    I(state_dir) holds only a completed undo and nothing of routerfix's is left on the router (then the undo is
    already done). An undo from no record and no marker could restore neither NAT filtering nor SIP ALG: never
    reported as success."""
    from routerfix.engine import plan_ghostcall_removal
    from routerfix.records import DeviceKey, undo_chain

    why = "no record was given"
    if state_dir and undo_chain(state_dir, DeviceKey.of(driver)):
        return
    if plan_ghostcall_removal(driver, state_dir=state_dir).extra.get("undo_from") == "marker":
        return  # the router holds routerfix's undo marker: the state before the first change comes back from it
    if state_dir:
        key = DeviceKey.of(driver)
        done = glob.glob(os.path.join(glob.escape(state_dir), glob.escape(key.slug) + "-*-undo.json"))
        if done:
            plan = plan_ghostcall_removal(driver, state_dir=state_dir)
            if not plan.actions:
                return
        why = f"no record was given and {state_dir} holds no record of this router's mitigation"
    module.fail_json(
        changed=False, status="nothing_to_undo_from",
        msg=f"{why}: cannot undo exactly (NAT filtering and SIP ALG would be left as they are). Pass the record the "
            f"mitigate task returned (register: result, then {RECORD_HINT}), or its file, or the state_dir it ran with")


def _returned_record(result):
    """The undo record a changed run returns: the journal kept in the state directory (with the state before the
    first write), else the result itself (the same form). Secret-free: no credential is ever part of it."""
    from routerfix.records import load_record

    if result.record_file:
        try:
            return load_record(result.record_file)
        except RouterfixError:
            pass
    return result.to_dict()


def run(module):
    """Plan, apply (unless check mode) and report."""
    import routerfix
    from routerfix.result import ResultStatus

    p = module.params
    present = p["state"] == "present"
    source = _record_source(module, p["record"])
    record_file = source if isinstance(source, str) and not source.startswith("{") else None
    if present and source is not None and record_file is None:
        module.fail_json(msg="record: with state=present it is the path to write the undo record to")
    record_data = None
    driver = connect(module)
    try:
        if present:
            options = dict((k, p[k]) for k in MITIGATION_ARGUMENT_SPEC if p[k] is not None)
            result = routerfix.apply_ghostcall_mitigation(driver, dry_run=module.check_mode,
                                                          state_dir=p["state_dir"], **options)
        else:
            if source is None:
                _nothing_to_undo_from(module, driver, p["state_dir"])
            result = routerfix.remove_ghostcall_mitigation(driver, record=source, dry_run=module.check_mode,
                                                           state_dir=p["state_dir"], backup=p["backup"])
            if source is None:
                used = result.plan.extra.get("records") or []
                record_file = used[-1] if used else None
    finally:
        driver.close()
    saved = result.record_file
    if result.changed and present:
        record_data = _returned_record(result)
        if record_file:
            saved = str(result.save(record_file))
    elif not present and isinstance(source, dict):
        record_data = source
    plan = result.plan
    data = result.to_dict()
    for text in result.warnings:
        module.warn(text)
    output = dict(
        changed=plan.changed if module.check_mode else result.changed,
        status=str(result.status),
        sink=str(plan.sink) if plan.sink else None,
        actions=[a.describe() for a in plan.actions],
        verdicts=data["verdicts"],
        warnings_list=list(result.warnings),
        record=record_data,
        record_file=(saved if present else record_file) or None,
        saved_to=saved,
        result=data,
    )
    if module._diff:
        output["diff"] = make_diff(plan.host, plan.before, plan.after)
    if not present and not result.complete:
        module.fail_json(msg="the undo is incomplete: routerfix's rules are gone, but " + "; ".join(
            result.warnings or ("what they replaced was not restored",)), **output)
    if result.status is ResultStatus.VERDICT and p["fail_on_verdict"]:
        module.fail_json(msg="no configuration change can fix this site: " + "; ".join(
            v["reason"] for v in data["verdicts"]), **output)
    module.exit_json(**output)


def main():
    argument_spec = routerfix_argument_spec()
    argument_spec.update(MITIGATION_ARGUMENT_SPEC)
    argument_spec.update(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        state_dir=dict(type="path"),
        record=dict(type="raw"),
        fail_on_verdict=dict(type="bool", default=True),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    check_library(module)   # before run() imports routerfix
    try:
        run(module)
    except RouterfixError as exc:
        fail_from_error(module, exc)


if __name__ == "__main__":
    main()
