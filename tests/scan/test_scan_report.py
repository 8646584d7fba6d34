"""Reports and their formats: verdicts, the one-line summary, JSON, SARIF 2.1.0, text.

SARIF output is validated against ``data/sarif-schema-2.1.0.json``, the OASIS SARIF 2.1.0
schema (errata 01, JSON Schema draft-04).
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from engine.errors import ProgramRejected
from engine.scan import Level, scan_paths, scan_source
from engine.scan.formats import render, to_sarif
from tests.scan.conftest import CORPUS, HERE, with_changes

SARIF_SCHEMA = json.loads((HERE / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
FINDING_KEYS = {
    "rule_id", "rule_name", "origin", "severity", "confidence", "message", "file", "line",
    "column", "source_line", "cwe", "blocking",
}  # fmt: skip


def validate_sarif(log: dict) -> None:
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(log)


def test_accepted_report(policy):
    report = scan_source("import math\nx = math.pi\n", "ok.py", policy)
    assert report.verdict == "accepted" and report.accepted
    assert report.summary() == "accepted: 1 file, no findings"


def test_low_findings_do_not_reject(policy):
    report = scan_source("import random\nx = random.random()\n", "low.py", policy)
    assert report.accepted and report.findings and not report.blocking
    assert "0 at or above medium" in report.summary()


def test_rejected_report_and_its_summary(policy):
    report = scan_source("import os\nexec('x')\n", "bad.py", policy)
    assert report.verdict == "rejected" and not report.accepted
    summary = report.summary()
    assert "\n" not in summary
    assert summary.startswith("rejected: 1 of 1 file")
    assert "PE101 import-denied at bad.py:1" in summary and "PE201" in summary


def test_summary_stays_one_short_line(policy):
    source = "".join(f"import os{i}\nexec('{i}')\n" for i in range(500))
    summary = scan_source(source, "many.py", policy).summary()
    assert "\n" not in summary and len(summary) < 700 and "more" in summary


def test_program_rejected_carries_the_report(policy):
    report = scan_source("import subprocess\n", "up.py", policy)
    error = ProgramRejected(report)
    assert error.report is report and "PE101" in str(error)


def test_warn_mode_reports_but_accepts(policy):
    warn = with_changes(policy, mode="warn")
    report = scan_source("import os\n", "w.py", warn)
    assert report.accepted and report.findings and not report.blocking
    assert "warn mode" in report.summary()


def test_thresholds_decide_what_blocks(policy):
    only_high = with_changes(policy, thresholds={"severity": "high"})
    assert scan_source("import pandas\n", "p.py", only_high).accepted  # PE102 is medium
    assert not scan_source("import pandas\n", "p.py", policy).accepted
    confident = with_changes(policy, thresholds={"confidence": "high"})
    report = scan_source("getattr(o, name)\n", "g.py", confident)  # PE401: medium confidence
    assert report.accepted and report.findings[0].confidence is Level.MEDIUM


def test_json_report_follows_the_documented_schema(policy):
    report = scan_paths([CORPUS / "hostile" / "exec_alias.py", CORPUS / "benign"], policy)
    data = json.loads(render(report, "json"))
    assert data["schema"] == "program-engine/scan-report" and data["schema_version"] == 1
    assert set(data) == {
        "schema", "schema_version", "tool", "verdict", "accepted", "summary", "policy",
        "counts", "files",
    }  # fmt: skip
    assert data["verdict"] == "rejected" and data["accepted"] is False
    assert data["counts"]["files"] == len(data["files"]) == len(report.files)
    assert data["counts"]["rejected_files"] == 1
    assert set(data["policy"]) == {"mode", "severity_threshold", "confidence_threshold"}
    findings = [f for file in data["files"] for f in file["findings"]]
    assert findings and all(set(f) == FINDING_KEYS for f in findings)
    assert sum(f["blocking"] for f in findings) == data["counts"]["blocking"] > 0
    assert {f["origin"] for f in findings} == {"engine", "bandit"}


def test_sarif_validates_against_the_sarif_schema(policy):
    report = scan_paths([CORPUS], policy)
    log = to_sarif(report)
    validate_sarif(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in {"error", "warning", "note"}
    bandit_rules = [rule for rule in rules if rule["id"].startswith("B")]
    assert bandit_rules and all(
        rule.get("helpUri", "").startswith("https://") for rule in bandit_rules
    )
    assert len(run["results"]) == len(report.findings)
    assert run["properties"]["verdict"] == "rejected"


def test_sarif_for_file_level_findings_and_odd_names(policy):
    report = scan_source(
        b"\x00", "odd name <1>.py", with_changes(policy, limits={"max_bytes": 100})
    )
    big = scan_source(
        "x = 1\n" * 100, "sub dir/big.py", with_changes(policy, limits={"max_bytes": 100})
    )
    for one in (report, big):
        log = to_sarif(one)
        validate_sarif(log)
    location = to_sarif(big)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "sub%20dir/big.py" and "region" not in location


def test_sarif_of_an_accepted_empty_scan_validates(policy):
    log = to_sarif(scan_source("x = 1\n", "ok.py", policy))
    validate_sarif(log)
    assert log["runs"][0]["results"] == []


def test_text_shows_each_finding_with_its_source_line(policy):
    report = scan_source(
        "import json\nvalue = eval('1')  # [bold red]not markup[/]\n", "t.py", policy
    )
    text = render(report, "text")
    assert "t.py: rejected" in text and "PE201" in text and "dynamic-code" in text
    assert "value = eval('1')  # [bold red]not markup[/]" in text
    assert text.rstrip().splitlines()[-1].startswith("rejected:")


def test_unknown_format_is_an_error(policy):
    with pytest.raises(ValueError, match="unknown format"):
        render(scan_source("x = 1\n", "x.py", policy), "xml")
