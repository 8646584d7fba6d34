"""Source tricks (PE6xx), limits (PE7xx) and parse failures (PE801), one group per rule."""

from __future__ import annotations

import pytest

from engine.scan import Level
from tests.scan.conftest import rule_ids, with_changes


def finding(report, rule):
    return next(f for f in report.findings if f.rule_id == rule)


# --- PE601 bidi-control --------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u2067", "\u2068", "\u202b", "\u200f"])
def test_bidi_controls_are_found(scan, char):
    report = scan(f"x = 1  # note {char} here\ny = 2\n")
    found = finding(report, "PE601")
    assert found.line == 1 and f"U+{ord(char):04X}" in found.message
    assert not report.accepted


def test_bidi_in_a_string_is_found_and_shown_escaped(scan):
    report = scan('label = "abc\u202edef"\n')
    found = finding(report, "PE601")
    assert "\\u202e" in found.source_line and "\u202e" not in found.source_line


def test_plain_unicode_text_is_not_bidi(scan):
    assert "PE601" not in rule_ids(scan('label = "Grüße, мир, 世界"\n'))


# --- PE602 confusable-identifier -----------------------------------------------------------


def test_cyrillic_letter_in_an_identifier_looks_like_ascii(scan):
    report = scan("tr\u0430nspile = 1\n")
    found = finding(report, "PE602")
    assert "'transpile'" in found.message and found.severity is Level.HIGH


def test_fullwidth_letters_normalise_to_exec(scan):
    report = scan("\uff45\uff58\uff45\uff43('x')\n")
    assert "'exec'" in finding(report, "PE602").message
    assert "PE201" in rule_ids(report)  # the ast sees the normalised name


def test_latin_mixed_with_cyrillic_is_high(scan):
    report = scan("data\u0436 = 1\n")
    found = finding(report, "PE602")
    assert "mixes scripts" in found.message and found.severity is Level.HIGH


def test_greek_physics_names_are_fine(scan):
    report = scan("θ = 0.5\nφ_max = θ * 2\n\u03b1\u03b3 = 1\n")
    assert all(f.severity < Level.MEDIUM for f in report.findings if f.rule_id == "PE602")
    assert report.accepted


def test_non_ascii_in_strings_and_comments_is_not_an_identifier(scan):
    assert "PE602" not in rule_ids(scan("x = 'tr\u0430nspile'  # \u0430\u0435\u043e\n"))


# --- PE603 nul-byte ------------------------------------------------------------------------


def test_nul_byte_is_found_and_stops_the_review(scan):
    report = scan(b"import json\nx = 1\x00\nimport os\n")
    found = finding(report, "PE603")
    assert (found.line, found.column) == (2, 6)
    assert "PE101" not in rule_ids(report) and not report.accepted


# --- PE604 coding-declaration and PE605 encoding-mismatch ----------------------------------


def test_unusual_declaration_on_ascii_text_is_medium(scan):
    report = scan(b"# -*- coding: cp1252 -*-\nx = 1\n")
    assert finding(report, "PE604").severity is Level.MEDIUM
    assert "PE605" not in rule_ids(report)


@pytest.mark.parametrize("declaration", [b"# coding: utf-8\n", b"# -*- coding: ascii -*-\n", b""])
def test_plain_declarations_are_fine(scan, declaration):
    assert rule_ids(scan(declaration + b"x = 1\n")) == set()


def test_utf7_hides_code_that_the_review_still_sees(scan):
    report = scan(b"# coding: utf-7\nx = 1  # +AAo-import os\n")
    assert {"PE604", "PE605", "PE101"} <= rule_ids(report)


def test_latin1_bytes_are_not_utf8(scan):
    report = scan(b"# coding: latin-1\nname = 'r\xe9sultat'\n")
    assert "not UTF-8" in finding(report, "PE605").message


def test_undeclared_non_utf8_bytes_are_rejected(scan):
    report = scan(b"x = 1\nname = 'r\xe9sultat'\n")
    found = finding(report, "PE605")
    assert found.line == 2 and not report.accepted


def test_unknown_or_non_text_encodings_are_rejected(scan):
    assert "PE605" in rule_ids(scan(b"# coding: no-such-codec\nx = 1\n"))
    assert "PE605" in rule_ids(scan(b"# coding: rot13\nk = 1\n"))


def test_bom_contradicting_the_declaration_is_rejected(scan):
    assert "PE605" in rule_ids(scan(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n"))


def test_text_with_lone_surrogates_is_rejected(scan):
    assert "PE605" in rule_ids(scan("x = '\udc80'\n"))


def test_text_is_reviewed_as_the_utf8_bytes_it_will_be_stored_as(scan):
    # A str upload keeps its coding line; stored as UTF-8 it would be read as UTF-7.
    report = scan("# coding: utf-7\nx = 1  # +AAo-import os\n")
    assert {"PE604", "PE605", "PE101"} <= rule_ids(report)


# --- PE606 control-character ---------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x1b", "\x08", "\x7f", "\u2028", "\x85", "\x0b"])
def test_control_characters_are_found(scan, char):
    report = scan(f"x = 1  # a{char}b\n")
    assert finding(report, "PE606").line == 1


def test_tabs_form_feeds_and_crlf_are_ordinary(scan):
    assert rule_ids(scan("x = 1\r\n\x0c\r\ndef f():\n\treturn 1\n")) == set()


# --- PE701 .. PE705 limits -----------------------------------------------------------------


def test_file_over_the_byte_limit(scan, policy):
    small = with_changes(policy, limits={"max_bytes": 100})
    report = scan("x = 1\n" * 50, small)
    assert rule_ids(report) == {"PE701"} and not report.accepted


def test_line_over_the_length_limit(scan, policy):
    report = scan("x = 1\ny = '" + "a" * (policy.limits.max_line_length + 5) + "'\n")
    found = finding(report, "PE702")
    assert found.line == 2 and "PE801" not in rule_ids(report)


def test_file_over_the_line_limit(scan, policy):
    few = with_changes(policy, limits={"max_lines": 10})
    assert "PE705" in rule_ids(scan("x = 1\n" * 20, few))


def test_tree_deeper_than_the_limit(scan, policy):
    shallow = with_changes(policy, limits={"max_ast_depth": 20})
    report = scan("x = " + "-" * 30 + "1\n", shallow)
    assert "PE703" in rule_ids(report) and not report.accepted
    assert "PE703" not in rule_ids(scan("x = -1\n", shallow))


def test_tree_with_too_many_nodes(scan, policy):
    few = with_changes(policy, limits={"max_ast_nodes": 100})
    assert "PE704" in rule_ids(scan("x = [" + "1, " * 200 + "]\n", few))


def test_findings_beyond_the_per_rule_limit_are_counted(scan, policy):
    capped = with_changes(policy, limits={"max_findings_per_rule": 3})
    report = scan("".join(f"exec('{i}')\n" for i in range(10)), capped)
    engine = [f for f in report.findings if f.rule_id == "PE201"]
    assert len(engine) == 4
    assert [f.line for f in engine if "more finding" not in f.message] == [1, 2, 3]
    assert any("7 more finding(s)" in f.message for f in engine)


# --- PE801 syntax-error --------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "print 'python 2'\n",
        "def f(:\n",
        "x = 1\n  y = 2\n",
        "x = " + "9" * 5000 + "\n",
        "",
    ],
    ids=["py2", "bad-def", "indent", "int-digits", "empty"],
)
def test_what_does_not_parse_is_rejected(scan, source):
    report = scan(source)
    if source:
        assert "PE801" in rule_ids(report) and not report.accepted
    else:
        assert report.accepted  # an empty file parses (it has no main; not this check's job)


def test_syntax_error_points_at_the_line(scan):
    assert finding(scan("x = 1\ny = (\n"), "PE801").line == 2
