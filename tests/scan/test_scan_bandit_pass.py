"""bandit on the shared tree: the same findings as bandit's own manager, without re-parsing,
and an incomplete run is a rejection."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from bandit.core import config as b_config
from bandit.core import context as b_context
from bandit.core import manager as b_manager
from bandit.core import node_visitor as b_node_visitor

from engine.scan import scan_source
from engine.scan.bandit_pass import _SharedTreeVisitor, run_bandit, skipped_tests
from engine.scan.source import SourceText
from tests.scan.conftest import CORPUS, REPO, rule_ids, with_changes

EXTRA = """
import hashlib
import random
import subprocess as sp
from subprocess import Popen as P

PASSWORD = "hunter2"
HOST = "0.0.0.0"


def f(password="secret", *args):
    assert args
    try:
        sp.call("ls " + args[0], shell=True)
        P(["ls"])
    except Exception:
        pass
    query = "SELECT * FROM t WHERE id = %s" % args[0]
    return hashlib.md5(query.encode()), random.random(), eval("1")


class C:
    def g(self, token="abc"):
        return exec("x")
"""


def stock_bandit(path: Path, exclude: list[str]) -> list[tuple[str, int, str]]:
    manager = b_manager.BanditManager(
        b_config.BanditConfig(), "file", quiet=True, ignore_nosec=True, profile={"exclude": exclude}
    )
    manager.discover_files([str(path)])
    manager.run_tests()
    assert not manager.skipped
    return sorted((issue.test_id, issue.lineno, issue.text) for issue in manager.results)


def ours(path: Path, policy) -> list[tuple[str, int, str]]:
    report = scan_source(path.read_bytes(), str(path), policy)
    return sorted((f.rule_id, f.line, f.message) for f in report.findings if f.origin == "bandit")


def comparable_files(tmp_path: Path) -> list[Path]:
    extra = tmp_path / "extra.py"
    extra.write_text(EXTRA, encoding="utf-8")
    files = [extra, *sorted((CORPUS / "benign").glob("*.py"))]
    for path in sorted((CORPUS / "hostile").glob("*.py")):
        try:
            ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        files.append(path)
    files += sorted(REPO.glob("program_source/*/*.py"))
    return files


@pytest.mark.parametrize("every_test", [False, True], ids=["policy-skips", "every-test"])
def test_same_findings_as_bandits_own_manager(tmp_path, policy, every_test):
    if every_test:
        policy = with_changes(policy, bandit={"skip": [], "skip_redundant": False})
    exclude = skipped_tests(policy)
    compared = 0
    for path in comparable_files(tmp_path):
        expected = stock_bandit(path, exclude)
        assert ours(path, policy) == expected, path
        compared += bool(expected)
    assert compared >= 10  # the comparison saw real findings, not only empty lists


def test_the_extra_sample_exercises_many_tests(tmp_path, policy):
    policy = with_changes(policy, bandit={"skip": [], "skip_redundant": False})
    path = tmp_path / "extra.py"
    path.write_text(EXTRA, encoding="utf-8")
    found = {test_id for test_id, _, _ in ours(path, policy)}
    assert {"B101", "B102", "B105", "B107", "B110", "B324", "B602", "B603", "B307"} <= found


def test_nosec_hides_nothing(scan):
    report = scan("exec(code)  # nosec\nexec(code)  # nosec B102\n")
    assert [f.line for f in report.findings if f.rule_id == "B102"] == [1, 2]


def test_the_file_is_parsed_once_and_bandit_never_parses(monkeypatch, policy):
    calls = []
    real_parse = ast.parse

    def counting_parse(*args, **kwargs):
        calls.append(args[0][:20])
        return real_parse(*args, **kwargs)

    def forbidden(self, data):
        raise AssertionError("bandit parsed the file itself")

    monkeypatch.setattr(ast, "parse", counting_parse)
    monkeypatch.setattr(b_node_visitor.BanditNodeVisitor, "process", forbidden)
    report = scan_source("import json\nexec(json.dumps(1))\n", "x.py", policy)
    assert len(calls) == 1
    assert {"PE201", "B102"} <= rule_ids(report)


def test_a_failing_bandit_test_makes_the_review_incomplete(monkeypatch, policy):
    def broken(self):
        raise RuntimeError("plugin bug")

    monkeypatch.setattr(b_context.Context, "call_function_name_qual", property(broken))
    report = scan_source("import json\njson.dumps(1)\n", "x.py", policy)
    incomplete = [f for f in report.findings if f.rule_id == "PE802"]
    assert incomplete and "plugin bug" in incomplete[0].message
    assert not report.accepted


def test_a_failing_visit_is_a_skipped_file_and_a_rejection(monkeypatch, policy):
    def broken(self, node):
        raise RecursionError("too deep")

    monkeypatch.setattr(_SharedTreeVisitor, "visit_Call", broken)
    report = scan_source("print(1)\n", "x.py", policy)
    assert any("bandit skipped the file" in f.message for f in report.findings)
    assert not report.accepted


def test_the_tree_is_left_without_parent_links(policy):
    text = "def f(x):\n    return [y for y in x if y]\n"
    tree = ast.parse(text)
    run_bandit(tree, text.encode(), SourceText("x.py", text), policy)
    assert not [node for node in ast.walk(tree) if "_bandit_parent" in node.__dict__]
    assert "_bandit_parent" not in ast.Load().__dict__


def test_bandit_can_be_switched_off(scan, policy):
    report = scan("exec(code)\n", with_changes(policy, bandit={"enabled": False}))
    assert "B102" not in rule_ids(report) and "PE201" in rule_ids(report)


def test_trojan_source_test_runs_when_not_skipped(scan, policy):
    every = with_changes(policy, bandit={"skip": []})
    assert "B613" in rule_ids(scan("x = 1  # \u202e\n", every))
    assert "B613" not in rule_ids(scan("x = 1  # \u202e\n"))
