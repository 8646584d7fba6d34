"""Checks on the raw upload, before and beside the syntax tree.

- :func:`decode_upload`: bytes -> text the way the interpreter decodes them (PEP 263
  declaration or BOM), with findings for NUL bytes, unusual ``# coding:`` declarations and
  bytes that read differently under the declared encoding and UTF-8;
- :func:`check_size`: the policy's byte, line and line-length limits;
- :func:`check_text`: trojan-source bidirectional controls, other control characters, and
  identifiers that mix scripts or are confusable with ASCII.
"""

from __future__ import annotations

import codecs
import io
import re
import tokenize
import unicodedata

from engine.scan.findings import Finding, Level
from engine.scan.policy import ScanLimits
from engine.scan.source import SourceText

PLAIN_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "ascii"})

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
# C0 controls except tab, line feed, form feed and carriage return; DEL; C1 controls; and
# the characters editors show as line breaks while the tokenizer does not.
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")

# Characters that look like ASCII letters (a compact subset of Unicode's confusables).
CONFUSABLES = {
    # Cyrillic
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c",
    "\u0443": "y", "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0501": "d",
    "\u051b": "q", "\u051d": "w", "\u04bb": "h", "\u04cf": "l", "\u0410": "A", "\u0412": "B",
    "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O", "\u0420": "P",
    "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0405": "S", "\u0406": "I", "\u0408": "J",
    "\u04ae": "Y", "\u051a": "Q", "\u051c": "W",
    # Greek (only the letters drawn exactly like Latin ones)
    "\u03bf": "o", "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H",
    "\u0399": "I", "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P",
    "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    # Armenian
    "\u0585": "o", "\u057d": "u", "\u0570": "h", "\u0578": "n", "\u0581": "g", "\u0566": "q",
    # Latin letters outside ASCII
    "\u0131": "i", "\u0237": "j", "\u0251": "a", "\u0261": "g", "\u01c0": "l", "\ua7b5": "b",
}  # fmt: skip

# Scripts that are never mixed with Latin in honest identifiers.
_HOSTILE_MIX = frozenset({"CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC", "GEORGIAN"})
_SCRIPT_GROUPS = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK"}


# --- decoding ------------------------------------------------------------------------------


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and byte column of ``offset`` in ``data``."""
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def decode_upload(data: bytes, source: SourceText) -> tuple[bool, list[Finding]]:
    """Decode ``data`` into ``source.text`` as the interpreter would.

    Returns whether the text can be reviewed, and the findings about its encoding.
    """
    findings: list[Finding] = []
    nul = data.find(b"\x00")
    if nul >= 0:
        source.text = data.decode("utf-8", "replace")  # for display only
        line, column = _position(data, nul)
        count = data.count(b"\x00")
        findings.append(
            source.finding(
                "PE603",
                f"{count} NUL byte(s), the first at line {line}: binary content, not source",
                line,
                column,
            )
        )
        return False, findings

    try:
        declared, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        encoding = codecs.lookup(declared).name
        text = data.decode(declared)
    except SyntaxError as exc:  # unknown encoding, or a BOM contradicting the declaration
        findings.append(source.finding("PE605", f"cannot decode the file: {exc.msg}", 1, 1))
        return False, findings
    except LookupError as exc:
        findings.append(source.finding("PE605", f"cannot decode the file: {exc}", 1, 1))
        return False, findings
    except UnicodeDecodeError as exc:
        source.text = data.decode("utf-8", "replace")  # for display only
        line, column = _position(data, exc.start)
        findings.append(
            source.finding(
                "PE605",
                f"not valid {exc.encoding} at line {line}: byte {data[exc.start]:#04x}",
                line,
                column,
            )
        )
        return False, findings

    source.text = text
    if encoding not in PLAIN_ENCODINGS:
        line = _declaration_line(text)
        findings.append(
            source.finding("PE604", f"the file declares the encoding {declared!r}", line, 1)
        )
        findings.extend(_compare_with_utf8(data, text, declared, source))
    return True, findings


def _declaration_line(text: str) -> int:
    for number, line in enumerate(text.split("\n", 2)[:2], start=1):
        if "coding" in line:
            return number
    return 1


def _compare_with_utf8(data: bytes, text: str, declared: str, source: SourceText) -> list[Finding]:
    try:
        as_utf8 = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        source.text = data.decode("utf-8", "replace")  # for display only
        line, column = _position(data, exc.start)
        message = f"the file is valid {declared} but not UTF-8 (line {line})"
        return [source.finding("PE605", message, line, column)]
    if as_utf8 == text:
        return []
    ours, theirs = text.split("\n"), as_utf8.split("\n")
    number = next(
        (i for i, (mine, other) in enumerate(zip(ours, theirs, strict=False), 1) if mine != other),
        min(len(ours), len(theirs)) + 1,
    )
    message = (
        f"the file reads differently as {declared} and as UTF-8, first at line {number}; "
        "the interpreter runs the declared reading"
    )
    return [source.finding("PE605", message, number, 1)]


# --- size ----------------------------------------------------------------------------------


def check_size(size: int, source: SourceText, limits: ScanLimits) -> Finding | None:
    """A PE701 finding when ``size`` bytes exceed the policy's ``max_bytes``."""
    if size <= limits.max_bytes:
        return None
    return source.finding("PE701", f"the file has {size} bytes; the limit is {limits.max_bytes}")


def check_lines(source: SourceText, limits: ScanLimits) -> list[Finding]:
    """PE705 and PE702 findings for too many or too long lines (at most one each)."""
    findings = []
    lines = source.lines
    if len(lines) > limits.max_lines:
        findings.append(
            source.finding(
                "PE705", f"the file has {len(lines)} lines; the limit is {limits.max_lines}"
            )
        )
    longest = max(map(len, lines), default=0)
    if longest > limits.max_line_length:
        number = next(i for i, line in enumerate(lines, 1) if len(line) > limits.max_line_length)
        findings.append(
            source.finding(
                "PE702",
                f"line {number} has {len(lines[number - 1])} characters; "
                f"the limit is {limits.max_line_length}",
                number,
                limits.max_line_length + 1,
            )
        )
    return findings


# --- text ----------------------------------------------------------------------------------


def check_text(source: SourceText) -> list[Finding]:
    """Control characters, trojan-source bidi controls and confusable identifiers."""
    text = source.text
    findings: list[Finding] = []
    if _CONTROL_RE.search(text):
        findings.extend(_controls(source))
    if text.isascii():
        return findings
    if _BIDI_RE.search(text):
        findings.extend(_bidi(source))
    findings.extend(_identifiers(source))
    return findings


def _controls(source: SourceText) -> list[Finding]:
    findings = []
    for number, line in enumerate(source.lines, start=1):
        match = _CONTROL_RE.search(line)
        if match:
            char = match.group()
            findings.append(
                source.finding(
                    "PE606",
                    f"control character U+{ord(char):04X} ({_char_name(char)})",
                    number,
                    match.start() + 1,
                )
            )
    return findings


def _bidi(source: SourceText) -> list[Finding]:
    findings = []
    for number, line in enumerate(source.lines, start=1):
        match = _BIDI_RE.search(line)
        if match:
            char = match.group()
            findings.append(
                source.finding(
                    "PE601",
                    f"bidirectional control character U+{ord(char):04X} "
                    f"({_char_name(char)}): the line displays in a different order than it "
                    "runs",
                    number,
                    match.start() + 1,
                )
            )
    return findings


def _char_name(char: str) -> str:
    return unicodedata.name(char, "unnamed").lower()


def _identifiers(source: SourceText) -> list[Finding]:
    """Tokenize (only files with non-ASCII text get here) and judge each non-ASCII name."""
    findings: list[Finding] = []
    seen: set[str] = set()
    try:
        tokens = tokenize.generate_tokens(io.StringIO(source.text).readline)
        for token in tokens:
            if token.type != tokenize.NAME or token.string.isascii() or token.string in seen:
                continue
            seen.add(token.string)
            finding = _judge_identifier(token.string, source, token.start)
            if finding is not None:
                findings.append(finding)
    except (tokenize.TokenError, SyntaxError):
        pass  # the parser reports the same problem as PE801
    return findings


def _judge_identifier(name: str, source: SourceText, start: tuple[int, int]) -> Finding | None:
    line, column = start[0], start[1] + 1
    shown = ascii(name)
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        return source.finding(
            "PE602",
            f"identifier {shown} is read by Python as {normal!r} (NFKC): it is written "
            "with look-alike characters",
            line,
            column,
        )
    skeleton = "".join(CONFUSABLES.get(char, char) for char in name)
    if skeleton != name and skeleton.isascii():
        return source.finding(
            "PE602",
            f"identifier {shown} looks like the ASCII name {skeleton!r}",
            line,
            column,
        )
    scripts = _scripts(name)
    if len(scripts) > 1:
        hostile = "LATIN" in scripts and bool(scripts & _HOSTILE_MIX)
        return source.finding(
            "PE602",
            f"identifier {shown} mixes scripts ({', '.join(sorted(scripts)).lower()})",
            line,
            column,
            severity=Level.HIGH if hostile else Level.LOW,
        )
    return None


def _scripts(name: str) -> set[str]:
    scripts = set()
    for char in name:
        if not char.isalpha():
            continue
        word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
        scripts.add(_SCRIPT_GROUPS.get(word, word))
    return scripts
