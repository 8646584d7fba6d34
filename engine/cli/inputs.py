"""Program inputs from the command line: ``--inputs FILE`` or ``--input KEY=JSON`` (repeated).

Values are JSON read with :class:`~engine.serialization.RuntimeDecoder`, so a file written by
``RuntimeEncoder`` (arrays, complex numbers, circuits) reads back as the program expects. A
value the CLI cannot read raises :class:`~engine.errors.InputValidationError` naming the
option and the rule; the program's own schema is checked later, by whoever runs it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from engine.errors import InputValidationError


def read_inputs(inputs_file: Path | None, pairs: Sequence[str]) -> dict[str, Any]:
    """The inputs given by ``--inputs FILE`` or by ``--input KEY=JSON`` pairs (not both)."""
    if inputs_file is not None and pairs:
        _refuse("--inputs/--input", "give --inputs or --input, not both")
    if inputs_file is not None:
        return _read_file(inputs_file)
    return _read_pairs(pairs)


def _read_file(path: Path) -> dict[str, Any]:
    from engine.serialization import RuntimeDecoder

    where = f"--inputs {path}"
    try:
        inputs = json.loads(path.read_text(encoding="utf-8"), cls=RuntimeDecoder)
    except OSError as exc:
        _refuse(where, f"cannot read: {exc.strerror or exc}")
    except ValueError as exc:
        _refuse(where, f"not valid JSON: {exc}")
    if not isinstance(inputs, dict):
        _refuse(where, "must hold a JSON object of inputs")
    return inputs


def _read_pairs(pairs: Sequence[str]) -> dict[str, Any]:
    from engine.serialization import RuntimeDecoder

    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            _refuse(f"--input {pair!r}", "expected KEY=JSON")
        try:
            inputs[key] = json.loads(text, cls=RuntimeDecoder)
        except ValueError:
            _refuse(f"--input {key}",
                    f"value {text!r} is not JSON (write strings as '\"text\"')")
    return inputs


def _refuse(where: str, rule: str) -> NoReturn:
    raise InputValidationError([(where, rule)], what="command-line inputs")
