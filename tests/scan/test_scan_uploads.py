"""Multi-file programs: the files of one upload may import each other, and nothing else."""

from __future__ import annotations

from engine.scan import scan_files, scan_paths, scan_source
from tests.scan.conftest import rule_ids

UPLOAD = {
    "main.py": "import helpers\nfrom pkg import util\nfrom pkg.util import mean\n",
    "helpers.py": "import math\n\n\ndef square(x):\n    return math.pow(x, 2)\n",
    "pkg/__init__.py": "",
    "pkg/util.py": "from . import other\nfrom .other import value\n\n\ndef mean(xs):\n"
    "    return sum(xs) / len(xs)\n",
    "pkg/other.py": "value = 1\n",
}


def by_file(report):
    found = {file: set() for file in report.files}
    for finding in report.findings:
        found[finding.file].add(finding.rule_id)
    return found


def test_files_of_one_upload_may_import_each_other(policy):
    report = scan_files(UPLOAD, policy)
    assert report.accepted, report.summary()
    assert set(report.files) == set(UPLOAD)


def test_the_same_import_alone_is_unlisted(policy):
    assert "PE102" in rule_ids(scan_source(UPLOAD["main.py"], "main.py", policy))


def test_relative_imports_may_not_climb_out_of_the_upload(policy):
    files = dict(UPLOAD)
    files["pkg/util.py"] = "from .. import runner\n"
    files["main.py"] = "from . import helpers\n"
    found = by_file(scan_files(files, policy))
    assert "PE103" in found["pkg/util.py"] and "PE103" in found["main.py"]


def test_a_local_module_cannot_stand_in_for_a_listed_one(policy):
    files = {
        "main.py": "import os\nimport pathlib\nimport helpers\n",
        "os.py": "",
        "pathlib.py": "",
        "helpers.py": "import subprocess\n",
    }
    found = by_file(scan_files(files, policy))
    assert {"PE101", "PE102"} <= found["main.py"]  # os denied; pathlib is the stdlib's
    assert "PE101" in found["helpers.py"]  # every file is reviewed in its own right


def test_a_hostile_helper_rejects_the_upload(policy):
    files = dict(UPLOAD)
    files["helpers.py"] = "exec(open('/tmp/x').read())\n"
    report = scan_files(files, policy)
    assert not report.accepted and report.rejected_files == ["helpers.py"]


def test_folders_on_disk_follow_the_same_rule(tmp_path, policy):
    for name, text in UPLOAD.items():
        path = tmp_path / "program" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    report = scan_paths([tmp_path / "program"], policy)
    assert report.accepted, report.summary()
    lone = tmp_path / "lone.py"
    lone.write_text("import helpers\n", encoding="utf-8")
    assert "PE102" in rule_ids(scan_paths([lone], policy))
