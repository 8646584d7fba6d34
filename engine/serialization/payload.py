"""Checks on a payload text as it arrives from the sandbox, before it is stored or passed on.

A result or interim message is ``RuntimeEncoder`` JSON written by the program, so it is hostile
text. :func:`check_payload` refuses what would break the engine later:

- a lone surrogate, raw (``"\\ud800"`` already in the string) or escaped (the six characters
  ``\\ud800`` in the JSON, which ``json.loads`` turns into one): neither UTF-8 nor the database
  can hold it;
- more characters than ``max_text_chars``, nesting deeper than ``max_depth``, more values than
  ``max_values``, all measured on the text without parsing it (nothing here recurses, so
  200,000 levels of nesting cost a scan, not a ``RecursionError``);
- with ``trial_decode`` (the final result), text that is not JSON or that ``RuntimeDecoder``
  refuses within its budget (:class:`~engine.serialization.decoder.CheckingDecoder`, which
  keeps no array's bytes). The decoded value is dropped; the text is what is kept.

Interim messages get the cheap checks only: they stay encoded and are decoded when read.
"""

from __future__ import annotations

import json
import re

from engine.errors import DecodeBudgetExceeded, DecodeError
from engine.serialization.policy import SerializationPolicy, default_policy
from engine.serialization.structure import check_structure

_RAW_SURROGATE = re.compile("[\ud800-\udfff]")
# Any escape that might be a surrogate; only texts that have one are looked at closely.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_HIGH = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
# Once escaped backslashes are blanked out, every backslash left starts an escape.
_LONE_HIGH = re.compile(_HIGH + f"(?!{_LOW})")
_LONE_LOW = re.compile(f"(?<!{_HIGH})" + _LOW)


def lone_surrogate_at(text: str) -> int | None:
    """Where ``text`` holds a lone surrogate, raw or as a JSON escape; None if nowhere."""
    raw = None if text.isascii() else _RAW_SURROGATE.search(text)  # isascii: a fast C scan
    if raw is not None:
        return raw.start()
    if _SURROGATE_ESCAPE.search(text) is None:
        return None
    blanked = text.replace("\\\\", "__")  # same length, so positions still match
    found = [match.start() for match in (_LONE_HIGH.search(blanked), _LONE_LOW.search(blanked))
             if match is not None]
    return min(found) if found else None


def scrub_text(text: str) -> str:
    """``text`` with every raw lone surrogate replaced by U+FFFD, so that it can be stored."""
    return _RAW_SURROGATE.sub("\ufffd", text)


def check_payload(
    text: str, policy: SerializationPolicy | None = None, *, trial_decode: bool = False
) -> None:
    """Refuse ``text`` unless it can be stored as UTF-8 and read back within the policy.

    Raises :class:`~engine.errors.DecodeError` saying what is wrong
    (:class:`~engine.errors.DecodeBudgetExceeded`, naming the limit, for a size or shape limit).
    """
    policy = policy or default_policy()
    limits = policy.limits
    if len(text) > limits.max_text_chars:
        raise DecodeBudgetExceeded(
            f"payload of {len(text)} characters exceeds max_text_chars {limits.max_text_chars}",
            "max_text_chars",
        )
    at = lone_surrogate_at(text)
    if at is not None:
        raise DecodeError(
            f"payload holds a lone surrogate (at character {at}), which is not valid UTF-8"
        )
    check_structure(text, limits)
    if trial_decode:
        _trial_decode(text, policy)


def _trial_decode(text: str, policy: SerializationPolicy) -> None:
    from engine.serialization.decoder import CheckingDecoder

    try:
        json.loads(text, cls=CheckingDecoder, policy=policy)
    except DecodeError:
        raise
    except ValueError as exc:  # json.JSONDecodeError
        raise DecodeError(f"payload is not valid JSON: {exc}") from None
    except Exception as exc:  # whatever a decoder raises, a reader would meet it too
        raise DecodeError(
            f"payload cannot be decoded ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
