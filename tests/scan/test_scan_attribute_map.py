"""The attribute map: current for the installed packages, followed as documented, and a map
that is missing or broken stops the review instead of weakening it."""

from __future__ import annotations

import json
import shutil
import types

import pytest

from engine.errors import PolicyError
from engine.policy_files import read_policy_file
from engine.scan import load_scan_policy, policy_from_mapping, scan_source
from engine.scan.attribute_map import AttributeMap, attribute_map_path, load_attribute_map
from engine.scan.attribute_walk import canonical
from engine.scan.build_attribute_map import allowed_status, build, differences, render
from engine.scan.policy import default_policy_path
from tests.scan.conftest import REPO


@pytest.mark.timeout(900)
def test_the_stored_map_is_current_for_the_installed_packages(policy):
    """Regenerates the map (a fresh interpreter imports every allowed module) and compares.
    On failure: python -m engine.scan.build_attribute_map --write, and review the diff."""
    stored = policy.attributes
    fresh = build(policy)
    assert differences(stored, fresh) == []
    path = attribute_map_path(policy.attribute_map)
    assert path.read_text(encoding="utf-8") == render(fresh)  # byte for byte, as written


def test_the_map_holds_what_the_issue_names(policy):
    attributes = policy.attributes.attributes
    assert attributes["logging.os"] == "os"
    assert attributes["warnings.sys"] == "sys"
    assert attributes["qiskit.version.subprocess"] == "subprocess"
    assert attributes["json.codecs"] == "codecs"
    assert attributes["random._urandom"] == "posix.urandom"
    assert attributes["numpy.lib._npyio_impl.DataSource"] == "numpy.lib.npyio.DataSource"
    assert len(attributes) > 1000
    assert policy.attributes.packages["qiskit"] and policy.attributes.python


def test_follow_replaces_the_longest_mapped_prefix():
    table = AttributeMap(attributes={"a.b": "c", "a.b.d": "e", "c.x": "f.g"})
    assert table.follow("a.b") == "c"
    assert table.follow("a.b.d.y") == "e.y"
    assert table.follow("a.b.x.z") == "f.g.z"  # a.b -> c, then c.x -> f.g
    assert table.follow("a.bb") == "a.bb"  # whole parts only
    assert table.follow("q") == "q"


def test_follow_stops_on_a_cycle():
    table = AttributeMap(attributes={"a.b": "a.b.b"})
    assert table.follow("a.b").startswith("a.b.b")  # bounded, no hang


def test_the_walker_names_values_as_a_program_would_reach_them():
    assert canonical(json) == "json"
    assert canonical(json.loads) == "json.loads"
    assert canonical(getattr) == "builtins.getattr"
    assert canonical(open) == "io.open"  # open says it comes from io, which the rules check
    assert canonical(42) is None

    def outer():
        def inner():
            pass

        return inner

    assert canonical(outer()) is None  # tests.….outer.<locals>.inner

    class Stray:
        pass

    Stray.__module__ = "no_such_module"
    Stray.__qualname__ = "Stray"
    assert canonical(Stray) is None
    module = types.ModuleType("made.up")
    assert canonical(module) == "made.up"


def test_c_accelerators_count_as_their_module(policy):
    assert allowed_status(policy, "_functools.reduce") == "allow"
    assert allowed_status(policy, "_pickle.loads") == "deny"
    assert allowed_status(policy, "_weakref.proxy") == "unlisted"


def copy_policies(tmp_path, monkeypatch):
    folder = tmp_path / "policies"
    shutil.copytree(REPO / "policies", folder)
    monkeypatch.setenv("ENGINE_POLICY_DIR", str(folder))
    return folder


def test_a_missing_map_stops_the_review(tmp_path, monkeypatch):
    folder = copy_policies(tmp_path, monkeypatch)
    (folder / "scan_module_attributes.json").unlink()
    with pytest.raises(PolicyError, match=r"scan_module_attributes\.json: cannot read"):
        scan_source("import json\n", "x.py", load_scan_policy())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"attributes": {"logging.os": "os; rm"}}', "attributes: Value error, 'os; rm' is not"),
        ('{"attributes": {}, "extra": 1}', "extra: Extra inputs"),
    ],
)
def test_a_broken_map_names_the_file_and_the_key(tmp_path, monkeypatch, content, message):
    folder = copy_policies(tmp_path, monkeypatch)
    (folder / "scan_module_attributes.json").write_text(content, encoding="utf-8")
    with pytest.raises(PolicyError, match=r"scan_module_attributes\.json") as caught:
        load_attribute_map("scan_module_attributes.json")
    assert message in str(caught.value)


def test_the_map_file_is_a_plain_name_in_the_policy_folder():
    data = read_policy_file(default_policy_path())
    for bad in ("../secrets.json", "/etc/map.json", "map.yaml", ""):
        with pytest.raises(PolicyError, match="attribute_map"):
            policy_from_mapping({**data, "attribute_map": bad}, "scan.yaml")


def test_the_stored_map_is_sorted_json(policy):
    path = attribute_map_path(policy.attribute_map)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert list(data["attributes"]) == sorted(data["attributes"])
