"""The scanner under attack: huge files, deep nesting, binary content and huge lines each end
as a finding within the policy's limits; never a crash, a hang or a traceback.

Inputs are generated here; the timeouts only guard against hangs.
"""

from __future__ import annotations

import builtins
import os
import random

import pytest

from engine.scan import scan_paths, scan_source, scanner
from tests.scan.conftest import rule_ids, with_changes

pytestmark = pytest.mark.timeout(120)

TWENTY_MB = 20 * 1024 * 1024
DEPTH = 10_000


def rejected_with(report, *rules):
    found = rule_ids(report)
    assert not report.accepted, report.summary()
    assert found & set(rules), (rules, report.summary())


# --- a 20 MB file --------------------------------------------------------------------------


def test_20_mb_file_on_disk_is_rejected_without_being_read(tmp_path, policy, monkeypatch):
    path = tmp_path / "huge.py"
    line = b"counts = {'00': 1, '11': 1}\n"
    with open(path, "wb") as handle:
        handle.write(line * (TWENTY_MB // len(line) + 1))
    assert path.stat().st_size > TWENTY_MB
    report = scan_paths([path], policy)
    assert rule_ids(report) == {"PE701"} and not report.accepted
    assert f"{path.stat().st_size} bytes" in report.findings[0].message


def test_20_mb_upload_in_memory_is_rejected(policy):
    data = b"x = 1\n" * (TWENTY_MB // 6 + 1)
    rejected_with(scan_source(data, policy=policy), "PE701")
    rejected_with(scan_source(data.decode(), policy=policy), "PE701")


def _bytes_read_by_this_process() -> int:
    """``rchar`` of /proc/self/io: every byte this process has had from read() calls."""
    with open("/proc/self/io") as handle:
        fields = dict(line.split(": ") for line in handle.read().splitlines())
    return int(fields["rchar"])


def test_a_file_that_grows_past_the_limit_while_read_is_caught(tmp_path, policy, monkeypatch):
    # stat() sees six bytes; the file then grows to 64 MiB between the open and the read (as
    # a file being written does). The reader must stop at the limit, not trust st_size.
    path = tmp_path / "growing.py"
    path.write_bytes(b"x = 1\n")
    limit = policy.limits.max_bytes
    grown = 64 * 1024 * 1024
    assert grown > 8 * limit

    def open_then_grow(file, *args, **kwargs):
        handle = builtins.open(file, *args, **kwargs)  # noqa: SIM115 - the scanner closes it
        if os.fspath(file) == str(path):
            with builtins.open(path, "ab") as writer:
                writer.truncate(grown)
        return handle

    monkeypatch.setattr(scanner, "open", open_then_grow, raising=False)
    before = _bytes_read_by_this_process()
    report = scan_paths([path], policy)
    read = _bytes_read_by_this_process() - before

    assert path.stat().st_size == grown
    rejected_with(report, "PE701")
    assert f"the file has {limit + 1} bytes" in report.findings[0].message
    assert read < 2 * limit, f"read {read} bytes of a file capped at {limit}"


def test_special_files_are_not_read(tmp_path, policy):
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    rejected_with(scan_paths([fifo], policy), "PE802")


# --- 10,000-deep nesting -------------------------------------------------------------------

NESTINGS = {
    "parentheses": "x = " + "(" * DEPTH + "1" + ")" * DEPTH,
    "lists": "x = " + "[" * DEPTH + "]" * DEPTH,
    "dicts": "x = " + "{1: " * DEPTH + "1" + "}" * DEPTH,
    "unary": "x = " + "-" * DEPTH + "1",
    "not": "x = " + "not " * DEPTH + "1",
    "binary-operators": "x = " + " + ".join(["1"] * DEPTH),
    "attributes": "x = a" + ".b" * DEPTH,
    "calls": "x = f" + "()" * DEPTH,
    "subscripts": "x = a" + "[0]" * DEPTH,
    "lambdas": "x = " + "lambda: " * DEPTH + "1",
    "conditional-expressions": "x = " + "1 if c else " * DEPTH + "1",
    # Indented blocks this deep take 50 MB of indentation: the byte limit stops them.
    "blocks": "".join(" " * i + "if x:\n" for i in range(DEPTH)) + " " * DEPTH + "pass\n",
    "functions": "".join(" " * i + f"def f{i}():\n" for i in range(DEPTH)) + " " * DEPTH + "pass\n",
    "blocks-within-the-byte-limit": "".join(" " * i + "if x:\n" for i in range(300))
    + " " * 300
    + "pass\n",
}


@pytest.mark.parametrize("source", NESTINGS.values(), ids=NESTINGS.keys())
def test_10000_deep_nesting_is_rejected(source, policy):
    rejected_with(scan_source(source, policy=policy), "PE703", "PE801", "PE702", "PE701")


@pytest.mark.parametrize("source", NESTINGS.values(), ids=NESTINGS.keys())
def test_10000_deep_nesting_reaches_the_parser_when_lines_may_be_long(source, policy):
    # With the line-length limit out of the way, the parser and the tree's depth limit
    # are what stop these.
    generous = with_changes(policy, limits={"max_line_length": 2_000_000, "max_bytes": 4_000_000})
    rejected_with(scan_source(source, policy=generous), "PE703", "PE801", "PE701")


def test_nesting_split_over_short_lines(policy):
    source = "x = " + "(\n" * DEPTH + "1" + "\n".join(")" * 100 for _ in range(DEPTH // 100))
    rejected_with(scan_source(source, policy=policy), "PE703", "PE801")
    source = "x = (\n" + " +\n".join(["a"] * DEPTH) + "\n)"
    rejected_with(scan_source(source, policy=policy), "PE703", "PE801")


@pytest.mark.parametrize(
    "source",
    [
        "x = " + " + ".join(["a"] * 900),
        "x = a" + ".b" * 900,
        "x = f" + "(1)" * 900,
    ],
    ids=["binary-operators", "attributes", "calls"],
)
def test_nesting_the_parser_accepts_is_bounded_before_bandit(source, policy):
    report = scan_source(source, policy=policy)
    assert rule_ids(report) == {"PE703"}, report.summary()


# --- binary content ------------------------------------------------------------------------


def random_bytes(size: int, seed: int, without: bytes = b"") -> bytes:
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(size))
    for byte in without:
        data = data.replace(bytes([byte]), b"")
    return data


@pytest.mark.parametrize(
    ("data", "rules"),
    [
        (random_bytes(100_000, 1), ("PE603",)),
        (random_bytes(100_000, 2, without=b"\x00"), ("PE605",)),
        (b"\x7fELF\x02\x01\x01" + bytes(64) + random_bytes(4000, 3), ("PE603",)),
        (b"\x89PNG\r\n\x1a\n" + random_bytes(4000, 4, without=b"\x00"), ("PE605", "PE606")),
        ("print('hello')\n".encode("utf-16"), ("PE603",)),
        (bytes(range(1, 128)) * 10, ("PE606", "PE801")),
    ],
    ids=["random", "random-no-nul", "elf", "png", "utf-16", "ascii-controls"],
)
def test_binary_content_is_rejected(data, rules, policy):
    rejected_with(scan_source(data, policy=policy), *rules)


def test_binary_file_on_disk(tmp_path, policy):
    path = tmp_path / "blob.py"
    path.write_bytes(random_bytes(200_000, 5))
    rejected_with(scan_paths([path], policy), "PE603")


# --- a huge single line --------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "x = '" + "a" * 900_000 + "'",
        "x = [" + "1," * 450_000 + "]",
        "exec('')" + ";pass" * 150_000,
    ],
    ids=["string", "list", "statements"],
)
def test_huge_single_line_is_rejected(source, policy):
    report = scan_source(source, policy=policy)
    assert rule_ids(report) == {"PE702"}, report.summary()


def test_huge_single_line_beyond_the_byte_limit(policy):
    rejected_with(scan_source("x = '" + "a" * 5_000_000 + "'", policy=policy), "PE701")


# --- other ways to make the scanner work hard ----------------------------------------------


def test_many_findings_stay_bounded(policy):
    source = "".join(f"exec('{i}')\n" for i in range(20_000))
    report = scan_source(source, policy=policy)
    per_rule = {}
    for finding in report.findings:
        per_rule[finding.rule_id] = per_rule.get(finding.rule_id, 0) + 1
    assert max(per_rule.values()) <= policy.limits.max_findings_per_rule + 1


def test_a_huge_string_annotation_is_not_parsed(policy):
    report = scan_source("def f(x: '" + "(" * 5000 + "'): pass\n", policy=policy)
    assert "PE204" in rule_ids(report)


def test_long_alias_chains_resolve(policy):
    chain = "a0 = exec\n" + "".join(f"a{i + 1} = a{i}\n" for i in range(2000)) + "a2000('x')\n"
    report = scan_source(chain, policy=policy)
    assert "PE201" in rule_ids(report) and not report.accepted
