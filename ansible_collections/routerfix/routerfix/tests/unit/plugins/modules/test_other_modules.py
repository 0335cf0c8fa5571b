from __future__ import annotations

from ansible_collections.routerfix.routerfix.plugins.modules import nat_mode, port_forward, router_facts


def test_port_forward_present_idempotent_replace_absent(run_module, router):
    args = dict(router, name="nvr-https", protocol="tcp", external_ports="8443", internal_address="192.168.1.20",
                internal_ports="443")
    planned, failed = run_module(port_forward, args, check_mode=True)
    assert not failed and planned["changed"] is True and planned["forwards"][0]["internal_ports"] == "443"
    added, failed = run_module(port_forward, args, diff=True)
    assert not failed and added["changed"] is True
    assert "forward nvr-https: tcp 8443 -> 192.168.1.20:443" in added["diff"]["after"]
    assert "nvr-https" not in added["diff"]["before"]
    again, _failed = run_module(port_forward, args)
    assert again["changed"] is False and len(again["forwards"]) == 1
    moved, _failed = run_module(port_forward, dict(args, internal_address="192.168.1.21"))
    assert moved["changed"] is True and moved["forwards"][0]["internal_address"] == "192.168.1.21"
    assert [a.split()[0] for a in moved["actions"]] == ["remove", "add"]
    gone, _failed = run_module(port_forward, dict(router, name="nvr-https", state="absent"))
    assert gone["changed"] is True and gone["forwards"] == []
    gone_again, _failed = run_module(port_forward, dict(router, name="nvr-https", state="absent"))
    assert gone_again["changed"] is False


def test_port_forward_refuses_unsafe_names(run_module, router):
    result, failed = run_module(port_forward, dict(router, name="x; reboot", external_ports="80",
                                                   internal_address="192.168.1.5"))
    assert failed and result["error_type"] == "InvalidValue"


def test_port_forward_requires_ports_and_address_when_present(run_module, router):
    result, failed = run_module(port_forward, dict(router, name="web"))
    assert failed and "external_ports" in result["msg"]


def test_nat_mode(run_module, router):
    planned, _failed = run_module(nat_mode, dict(router, mode="secure"), check_mode=True)
    assert planned["changed"] is True and planned["previous"] == "open"
    done, _failed = run_module(nat_mode, dict(router, mode="secure"), diff=True)
    assert done["changed"] is True and done["mode"] == "secure"
    assert "nat filtering: secure" in done["diff"]["after"] and "nat filtering: open" in done["diff"]["before"]
    again, _failed = run_module(nat_mode, dict(router, mode="secure"))
    assert again["changed"] is False


def test_router_facts(run_module, router):
    result, failed = run_module(router_facts, router)
    assert not failed and result["changed"] is False
    facts = result["ansible_facts"]["routerfix"]
    assert facts["nat_mode"] == "open" and facts["mitigated"] is False and len(facts["phones"]) == 2
