"""One decoded source file as the passes see it, and how findings are placed in it.

Every pass reports positions the way its tool knows them (the ``ast`` module: 1-based lines
and 0-based UTF-8 byte offsets); :meth:`SourceText.finding` turns them into a
:class:`~engine.scan.findings.Finding` with a 1-based character column and the source line.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from engine.scan.findings import Finding, Level, Origin
from engine.scan.rules import RULES

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
MAX_SOURCE_LINE = 300  # characters of the offending line kept in a finding


class SourceText:
    """The text of one file (``text`` may be empty when it could not be decoded), and its
    place in its upload: the top-level modules the upload itself provides, and the package
    the file belongs to (``""`` for a top-level module), for judging imports between them."""

    __slots__ = ("_lines", "filename", "local_modules", "package", "text")

    def __init__(
        self,
        filename: str,
        text: str = "",
        local_modules: frozenset[str] = frozenset(),
        package: str = "",
    ) -> None:
        self.filename = filename
        self.text = text
        self.local_modules = local_modules
        self.package = package
        self._lines: list[str] | None = None

    def is_local(self, dotted: str) -> bool:
        """Whether ``dotted`` is a module of the upload itself (never a standard module's
        name, which the interpreter might resolve to the standard library instead)."""
        top = dotted.partition(".")[0]
        return top in self.local_modules and top not in sys.stdlib_module_names

    @property
    def lines(self) -> list[str]:
        """The lines as the tokenizer counts them: only ``\\n``, ``\\r\\n`` and ``\\r`` end one."""
        if self._lines is None:
            text = self.text
            self._lines = _LINE_BREAK.split(text) if "\r" in text else text.split("\n")
        return self._lines

    def line(self, number: int) -> str:
        """Line ``number`` (1-based), or ``""`` when there is none."""
        lines = self.lines
        if 1 <= number <= len(lines):
            return lines[number - 1]
        return ""

    def char_column(self, number: int, byte_offset: int) -> int:
        """A 0-based UTF-8 byte offset on line ``number`` as a 1-based character column."""
        text = self.line(number)
        if text.isascii() or byte_offset <= 0:
            return max(byte_offset, 0) + 1
        prefix = text.encode("utf-8", "surrogatepass")[:byte_offset]
        return len(prefix.decode("utf-8", "replace")) + 1

    def finding(
        self,
        rule_id: str,
        message: str,
        line: int = 0,
        column: int = 1,
        *,
        severity: Level | None = None,
        confidence: Level | None = None,
    ) -> Finding:
        """A finding of engine rule ``rule_id`` at ``line``/``column`` (both 1-based)."""
        rule = RULES[rule_id]
        return Finding(
            rule_id=rule.id,
            rule_name=rule.name,
            severity=severity or rule.severity,
            confidence=confidence or rule.confidence,
            message=message,
            file=self.filename,
            line=line,
            column=column,
            source_line=clip(self.line(line)),
            cwe=rule.cwe,
            origin="engine",
        )

    def external_finding(
        self,
        rule_id: str,
        rule_name: str,
        severity: Level,
        confidence: Level,
        message: str,
        line: int,
        column: int,
        cwe: int | None,
        origin: Origin,
    ) -> Finding:
        """A finding of another tool's rule, placed like the engine's own."""
        return Finding(
            rule_id=rule_id,
            rule_name=rule_name,
            severity=severity,
            confidence=confidence,
            message=message,
            file=self.filename,
            line=line,
            column=column,
            source_line=clip(self.line(line)),
            cwe=cwe,
            origin=origin,
        )


def clip(text: str, limit: int = MAX_SOURCE_LINE) -> str:
    """``text`` safe to display: stripped, cut to ``limit`` characters, and with control and
    format characters (bidi overrides, escapes, zero-width marks) written as escapes."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if text.isascii() and text.isprintable():
        return text
    return "".join(_escape(char) for char in text)


def _escape(char: str) -> str:
    if char == "\t" or unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp"):
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
