"""policies/scan.yaml as a validated object: defaults, overlays and errors that name the key."""

from __future__ import annotations

import pytest

from engine.errors import PolicyError
from engine.policy_files import read_policy_file
from engine.scan import Level, load_scan_policy, policy_from_mapping
from engine.scan.bandit_pass import TEST_TARGETS, skipped_tests
from engine.scan.policy import default_policy_path
from tests.scan.conftest import with_changes


def test_default_policy_lists_what_programs_need(policy):
    for module in ("qiskit", "qiskit_aer", "numpy", "scipy", "math", "json", "typing"):
        assert policy.import_status(module) == "allow", module
    for module in ("qiskit_ibm_runtime.program", "qiskit.providers.ibmq.runtime"):
        assert policy.import_status(module) == "allow", module
    for module in ("os", "sys", "subprocess", "socket", "ctypes", "importlib", "builtins"):
        assert policy.import_status(module) == "deny", module
    for module in ("pickle", "marshal", "shutil", "multiprocessing", "signal", "pty"):
        assert policy.import_status(module) == "deny", module
    for module in ("urllib.request", "http.client"):
        assert policy.import_status(module) == "deny", module
    for name in ("codecs", "encodings.rot_13", "numpy.lib._datasource", "typing._eval_type"):
        assert policy.import_status(name) == "deny", name
    assert {"math", "qiskit"} <= set(policy.imports.star_allow)
    assert policy.import_status("pandas") == "unlisted"
    assert policy.mode == "reject" and policy.thresholds.severity is Level.MEDIUM


def test_longest_entry_decides(policy):
    assert policy.import_status("numpy.linalg") == "allow"
    assert policy.import_status("numpy.ctypeslib.load_library") == "deny"
    assert policy.denied_entry("numpy.ctypeslib.load_library") == "numpy.ctypeslib"
    assert policy.denied_entry("numpy.linalg") is None


def test_default_file_validates_as_is():
    data = read_policy_file(default_policy_path())
    assert policy_from_mapping(data, "scan.yaml").model_dump()["mode"] == data["mode"]


def write(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_custom_policy_is_laid_over_the_default(tmp_path, policy):
    custom = load_scan_policy(
        write(
            tmp_path,
            "mode: warn\nthresholds:\n  severity: high\nimports:\n  allow_more: [pandas]\n",
        )
    )
    assert custom.mode == "warn" and custom.thresholds.severity is Level.HIGH
    assert custom.thresholds.confidence is policy.thresholds.confidence  # merged, not replaced
    assert custom.import_status("pandas") == "allow"
    assert custom.import_status("os") == "deny"  # the default lists are kept


def test_lists_in_a_custom_policy_replace(tmp_path):
    custom = load_scan_policy(write(tmp_path, "scratch_dirs: [/scratch, /data]\n"))
    assert custom.scratch_dirs == ("/scratch", "/data")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("mode: block\n", "mode"),
        ("thresholds:\n  severity: severe\n", "thresholds.severity"),
        ("thresholds:\n  sevrity: high\n", "thresholds.sevrity"),
        ("limits:\n  max_bytes: -1\n", "limits.max_bytes"),
        ("limits:\n  max_ast_depth: 100000\n", "limits.max_ast_depth"),
        ("imports:\n  allow: [os]\n", "imports"),
        ("imports:\n  allow_more: ['not a module']\n", "imports.allow_more"),
        ("imports:\n  star_allow: ['math; os']\n", "imports.star_allow"),
        ("attribute_map: ../elsewhere.json\n", "attribute_map"),
        ("rules:\n  PE999: false\n", "rules"),
        ("bandit:\n  skip: [X1]\n", "bandit.skip"),
        ("scratch_dirs: [relative/dir]\n", "scratch_dirs"),
        ("scratch_dirs: [/]\n", "scratch_dirs"),
        ("colour: blue\n", "colour"),
        ("version: 2\n", "version"),
    ],
)
def test_bad_policies_name_the_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_scan_policy(path)
    message = str(caught.value)
    assert str(path) in message and f": {key}:" in message, message


def test_unknown_rule_id_is_named(tmp_path):
    with pytest.raises(PolicyError, match="PE999"):
        load_scan_policy(write(tmp_path, "rules:\n  PE999: false\n"))


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_scan_policy(tmp_path / "missing.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_scan_policy(write(tmp_path, "mode: [unclosed\n"))
    with pytest.raises(PolicyError, match="mapping"):
        load_scan_policy(write(tmp_path, "- a list\n"))


def test_policy_file_changes_are_picked_up(tmp_path):
    path = write(tmp_path, "mode: warn\n")
    assert load_scan_policy(path).mode == "warn"
    path.write_text("mode: reject\nthresholds: {severity: low}\n", encoding="utf-8")
    assert load_scan_policy(path).thresholds.severity is Level.LOW


def test_fail_on_forces_reject_mode(policy):
    warn = with_changes(policy, mode="warn")
    strict = warn.with_fail_on(Level.LOW)
    assert strict.mode == "reject" and strict.thresholds.severity is Level.LOW
    assert strict.blocks(Level.LOW, Level.HIGH) and not warn.blocks(Level.HIGH, Level.HIGH)


def test_redundant_bandit_tests_follow_the_import_lists(policy):
    skipped = set(skipped_tests(policy))
    assert {"B108", "B613"} <= skipped
    assert {"B602", "B603", "B605", "B501", "B506"} <= skipped
    assert "B102" not in skipped and "B324" not in skipped and "B101" not in skipped
    allowing = with_changes(policy, imports={"allow_more": ["subprocess"]})
    assert "B602" not in skipped_tests(allowing) and "B603" not in skipped_tests(allowing)
    assert set(skipped_tests(with_changes(policy, mode="warn"))) == {"B108", "B613"}
    off = with_changes(policy, bandit={"skip_redundant": False})
    assert set(skipped_tests(off)) == {"B108", "B613"}
    assert all(test_id.startswith("B") for test_id in TEST_TARGETS)
