"""The README's code blocks that tests run as written: ``<!-- test: NAME -->`` before a
fenced python block marks it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(marker: str) -> str:
    """The python block marked ``<!-- test: marker -->`` in the README."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"<!-- test: {re.escape(marker)} -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"README has no python block marked {marker!r}"
    return match.group(1)
