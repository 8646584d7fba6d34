"""The corpus: every hostile program is rejected by the rule it names; every benign program
(and every sample under program_source/, whatever exists at run time) is accepted with no
finding at or above medium severity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.scan import Level, scan_paths, scan_source
from tests.scan.conftest import CORPUS, REPO, rule_ids

HOSTILE = sorted((CORPUS / "hostile").glob("*.py"))
BENIGN = sorted((CORPUS / "benign").glob("*.py"))
EXPECT = re.compile(rb"^# expect: ([A-Z0-9, ]+)$", re.MULTILINE)


def expected_rules(path: Path) -> set[str]:
    head = b"\n".join(path.read_bytes().splitlines()[:3])
    match = EXPECT.search(head)
    assert match, f"{path.name} has no '# expect: RULE' header in its first lines"
    return {rule.strip() for rule in match.group(1).decode().split(",")}


def program_source_samples() -> list[Path]:
    """Each program_source/<name>/<name>.py present now (new samples are picked up)."""
    return sorted(
        path for path in REPO.glob("program_source/*/*.py") if path.stem == path.parent.name
    )


def test_the_hostile_corpus_is_large_and_varied():
    assert len(HOSTILE) >= 40
    rules = set().union(*(expected_rules(path) for path in HOSTILE))
    assert len(rules) >= 30  # techniques spread over the rules, not one rule many times


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_program_is_rejected_by_its_rule(path, policy):
    report = scan_source(path.read_bytes(), path.name, policy)
    expected = expected_rules(path)
    assert expected <= rule_ids(report), (
        expected,
        [(f.rule_id, f.message) for f in report.findings],
    )
    assert not report.accepted
    blocking = {f.rule_id for f in report.blocking}
    assert expected & blocking, f"{expected} fired but did not block: {report.summary()}"


def benign_programs() -> list[Path]:
    return BENIGN + program_source_samples()


def test_the_benign_corpus_is_large_enough():
    assert len(BENIGN) >= 10
    names = {path.name for path in BENIGN}
    assert {"runtime_template.py", "hello_world_original.py"} <= names


@pytest.mark.parametrize(
    "path",
    benign_programs(),
    ids=[str(p.relative_to(REPO)) for p in benign_programs()],
)
def test_benign_program_is_accepted(path, policy):
    report = scan_source(path.read_bytes(), path.name, policy)
    serious = [f for f in report.findings if f.severity >= Level.MEDIUM]
    assert report.accepted and not serious, [(f.rule_id, f.line, f.message) for f in serious]


def test_whole_folders_give_the_same_verdicts(policy):
    report = scan_paths([CORPUS], policy)
    rejected = {Path(file).name for file in report.rejected_files}
    assert rejected == {path.name for path in HOSTILE}
    assert len(report.files) == len(HOSTILE) + len(BENIGN)
