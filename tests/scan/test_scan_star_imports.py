"""Every module on the policy's star-import allow list exports only names the review need not
follow: allowed, and checked by no rule under another name. A new version of a package that
starts exporting such a name fails here, and the module leaves the list."""

from __future__ import annotations

import importlib
import types

import pytest

from engine.scan import load_scan_policy
from engine.scan.attribute_walk import canonical
from engine.scan.build_attribute_map import keep

STAR_ALLOW = load_scan_policy().imports.star_allow


def star_names(module: types.ModuleType) -> list[str]:
    """What ``from module import *`` binds."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name in vars(module) if not name.startswith("_")]
    return list(names)


def test_the_check_finds_what_it_looks_for(policy):
    operator = importlib.import_module("operator")
    assert keep(policy, canonical(operator.attrgetter))
    assert keep(policy, canonical(importlib.import_module("logging").FileHandler))


def test_the_list_is_short_and_conservative():
    assert "math" in STAR_ALLOW and "qiskit" in STAR_ALLOW
    for module in ("numpy", "typing", "operator", "logging", "os"):
        assert module not in STAR_ALLOW


@pytest.mark.parametrize("name", STAR_ALLOW)
def test_a_star_allowed_module_exports_nothing_judged(policy, name):
    module = importlib.import_module(name)
    problems = []
    for export in star_names(module):
        value = getattr(module, export)
        target = canonical(value)
        if target is None:
            continue  # constants and instances: data, not code
        if keep(policy, target):  # what the attribute map would list: judged or not allowed
            problems.append(f"{export} is {target}")
    assert not problems, problems
