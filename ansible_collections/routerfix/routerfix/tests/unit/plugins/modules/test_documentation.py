"""Every module's documented options match its argument spec (names, types, defaults, choices, no_log)."""

from __future__ import annotations

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.routerfix.routerfix.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.routerfix.routerfix.plugins.modules import (
    ghostcall_mitigation,
    nat_mode,
    port_forward,
    router_facts,
)

MODULES = [ghostcall_mitigation, nat_mode, port_forward, router_facts]


class _Captured(Exception):
    pass


def _argument_spec(module, monkeypatch):
    seen = {}

    def capture(self, argument_spec, **kwargs):
        seen.update(argument_spec=argument_spec, kwargs=kwargs)
        raise _Captured()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    monkeypatch.setattr(module, "AnsibleModule", basic.AnsibleModule)
    with pytest.raises(_Captured):
        module.main()
    return seen["argument_spec"], seen["kwargs"]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_documentation_matches_argument_spec(module, monkeypatch):
    spec, kwargs = _argument_spec(module, monkeypatch)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["extends_documentation_fragment"] == ["routerfix.routerfix.connection"]
    options = dict(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    options.update(doc.get("options") or {})
    assert set(options) == set(spec)
    for name, arg in spec.items():
        documented = options[name]
        assert documented["type"] == arg.get("type", "str"), name
        assert documented.get("required", False) == arg.get("required", False), name
        assert documented.get("default") == arg.get("default"), name
        assert documented.get("choices") == arg.get("choices"), name
        assert documented["description"], name
    assert kwargs["supports_check_mode"] is True
    assert yaml.safe_load(module.EXAMPLES) and yaml.safe_load(module.RETURN) is not None
    assert doc["attributes"]["check_mode"]["support"] == "full"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_secrets_are_no_log(module, monkeypatch):
    spec, _kwargs = _argument_spec(module, monkeypatch)
    for name, arg in spec.items():
        if any(word in name for word in ("password", "secret", "token", "key")):
            assert arg.get("no_log") is True, name
