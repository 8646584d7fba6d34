"""The attribute and index steps that format strings take: ``{0.__globals__}``, ``{x[os]}``.

``str.format``, ``str.format_map``, ``string.Formatter`` and ``{``-style logging formats
read attributes and items of their arguments as the fields say, so a field is an attribute
access written in a string. These helpers parse fields the way the interpreter does (its
own parser, ``_string``), including fields nested in a format spec (``{0:{1.os}}``).
"""

from __future__ import annotations

import _string
from collections.abc import Iterator

# str.format expands fields nested in a spec one level deep; parse a little deeper.
_MAX_SPEC_DEPTH = 3

Step = tuple[bool, str]  # (is an attribute, the attribute name or the index key)


def field_steps(field_name: str) -> Iterator[Step]:
    """The steps after the first name of one field (``0.a[b]`` -> attribute a, index b).
    A malformed field yields the steps before the error: the interpreter stops there too."""
    try:
        _first, rest = _string.formatter_field_name_split(field_name)
        for is_attribute, key in rest:
            yield bool(is_attribute), str(key)
    except ValueError:
        return


def format_steps(text: str) -> Iterator[Step]:
    """The steps of every field of the format string ``text``, nested specs included.
    Text that is not a valid format string yields the steps of the fields before the
    error."""
    pending = [(text, 0)]
    while pending:
        current, depth = pending.pop()
        try:
            for _literal, field_name, spec, _conversion in _string.formatter_parser(current):
                if field_name:
                    yield from field_steps(field_name)
                if spec and "{" in spec and depth < _MAX_SPEC_DEPTH:
                    pending.append((spec, depth + 1))
        except ValueError:
            continue


def may_have_steps(text: str) -> bool:
    """A cheap test before parsing: a field with a step needs a brace and a dot or bracket."""
    return "{" in text and ("." in text or "[" in text)
