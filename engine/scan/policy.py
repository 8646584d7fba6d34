"""The scan policy: ``policies/scan.yaml`` as a validated, immutable object.

The default policy is the one the upload path uses. A user's policy file is laid over it
(mappings merge key by key, lists replace), so that a custom policy names only what it
changes. Any mistake raises :class:`~engine.errors.PolicyError` naming the file and the key.
"""

from __future__ import annotations

import os
import posixpath
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from engine.errors import PolicyError
from engine.policy_files import policy_dir, read_policy_file
from engine.scan.attribute_map import AttributeMap, load_attribute_map
from engine.scan.findings import Level
from engine.scan.rules import RULES

_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BANDIT_ID_RE = re.compile(r"^B\d{3}$")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.json$")

ImportStatus = Literal["allow", "deny", "unlisted"]


def _parse_level(value: Any) -> Level:
    if isinstance(value, int) and not isinstance(value, bool) and not isinstance(value, Level):
        raise ValueError(f"expected low, medium or high, got {value!r}")
    return Level.parse(value)


LevelField = Annotated[
    Level, BeforeValidator(_parse_level), PlainSerializer(lambda level: level.label)
]


def _check_pattern(values: tuple[str, ...], pattern: re.Pattern[str], what: str):
    for value in values:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not a valid {what}")
    return values


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Section):
    """A finding blocks a file when it is at or above both levels (in ``reject`` mode)."""

    severity: LevelField = Level.MEDIUM
    confidence: LevelField = Level.LOW


class ScanLimits(_Section):
    """Bounds on what the scanner reads; beyond them a file is rejected, not analysed."""

    max_bytes: int = Field(1_048_576, ge=1, le=64 * 1_048_576)
    max_lines: int = Field(20_000, ge=1)
    max_line_length: int = Field(10_000, ge=80)
    # Bandit walks the tree recursively; keep well inside Python's recursion limit.
    max_ast_depth: int = Field(200, ge=10, le=500)
    max_ast_nodes: int = Field(300_000, ge=100)
    # Beyond this many findings of one rule in one file, the rest are counted, not listed.
    max_findings_per_rule: int = Field(50, ge=1)


class ImportLists(_Section):
    """Module allow and deny lists; dotted entries cover their submodules."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]
    allow_more: tuple[str, ...] = ()
    deny_more: tuple[str, ...] = ()
    unlisted_severity: LevelField = Level.MEDIUM
    # Modules a program may star-import (``from math import *``); any other is PE106.
    star_allow: tuple[str, ...] = ()

    @field_validator("allow", "deny", "allow_more", "deny_more", "star_allow")
    @classmethod
    def _modules(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_pattern(values, _MODULE_RE, "module name")

    @model_validator(mode="after")
    def _disjoint(self) -> ImportLists:
        for first, second in (("allow", "deny"), ("allow_more", "deny_more")):
            both = sorted(set(getattr(self, first)) & set(getattr(self, second)))
            if both:
                raise ValueError(f"on both {first} and {second}: {', '.join(both)}")
        return self

    @property
    def allowed(self) -> tuple[str, ...]:
        """``allow`` minus ``deny_more``, plus ``allow_more`` (the ``_more`` lists win)."""
        return tuple(m for m in self.allow if m not in self.deny_more) + self.allow_more

    @property
    def denied(self) -> tuple[str, ...]:
        """``deny`` minus ``allow_more``, plus ``deny_more``."""
        return tuple(m for m in self.deny if m not in self.allow_more) + self.deny_more


class NameLists(_Section):
    """Attribute names the ast pass treats as escapes (see ``rules.py``)."""

    escape_attributes: tuple[str, ...]
    frame_attributes: tuple[str, ...]
    module_attributes: tuple[str, ...]

    @field_validator("escape_attributes", "frame_attributes", "module_attributes")
    @classmethod
    def _identifiers(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_pattern(values, _IDENTIFIER_RE, "identifier")


class BanditOptions(_Section):
    """Whether bandit runs, and which of its tests are skipped."""

    enabled: bool = True
    skip: tuple[str, ...] = ()
    # Skip tests that only look for modules whose import this policy rejects anyway.
    skip_redundant: bool = True

    @field_validator("skip")
    @classmethod
    def _test_ids(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _check_pattern(values, _BANDIT_ID_RE, "bandit test id (like B101)")


class ScanPolicy(_Section):
    """What the static review checks and when it rejects; see ``policies/scan.yaml``."""

    version: Literal[1] = 1
    mode: Literal["reject", "warn"] = "reject"
    thresholds: Thresholds = Thresholds()
    limits: ScanLimits = ScanLimits()
    scratch_dirs: tuple[str, ...] = ("/tmp",)
    imports: ImportLists
    names: NameLists
    rules: dict[str, bool] = Field(default_factory=dict)
    bandit: BanditOptions = BanditOptions()
    # The generated map of allowed modules' attributes (a file in the policy folder).
    attribute_map: str = "scan_module_attributes.json"

    @field_validator("attribute_map")
    @classmethod
    def _map_file(cls, value: str) -> str:
        if not _FILE_NAME_RE.match(value):
            raise ValueError(f"{value!r} must be the name of a .json file in the policy folder")
        return value

    @field_validator("scratch_dirs")
    @classmethod
    def _absolute_dirs(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not value.startswith("/") or posixpath.normpath(value) in ("/", "//"):
                raise ValueError(f"{value!r} must be an absolute folder other than /")
        return tuple(posixpath.normpath(value) for value in values)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, values: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(values) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}")
        return values

    def __hash__(self) -> int:  # rules is a dict; policies are compared by content
        return hash(self.model_dump_json())

    # --- derived lookups, computed once per policy -----------------------------------

    @cached_property
    def _import_entries(self) -> dict[str, ImportStatus]:
        entries: dict[str, ImportStatus] = {name: "allow" for name in self.imports.allowed}
        entries.update({name: "deny" for name in self.imports.denied})
        return entries

    def import_status(self, dotted: str) -> ImportStatus:
        """``allow``, ``deny`` or ``unlisted`` for a module or a dotted name in one.

        The longest list entry equal to ``dotted`` or to one of its dotted prefixes decides.
        """
        entries = self._import_entries
        name = dotted
        while True:
            status = entries.get(name)
            if status is not None:
                return status
            cut = name.rfind(".")
            if cut < 0:
                return "unlisted"
            name = name[:cut]

    def denied_entry(self, dotted: str) -> str | None:
        """The deny-list entry that covers ``dotted``, if the decision is deny."""
        entries = self._import_entries
        name = dotted
        while True:
            status = entries.get(name)
            if status is not None:
                return name if status == "deny" else None
            cut = name.rfind(".")
            if cut < 0:
                return None
            name = name[:cut]

    @cached_property
    def attributes(self) -> AttributeMap:
        """The attribute map (loaded on first use; a missing map raises PolicyError)."""
        return load_attribute_map(self.attribute_map)

    def rule_enabled(self, rule_id: str) -> bool:
        return self.rules.get(rule_id, True)

    @cached_property
    def disabled_rules(self) -> frozenset[str]:
        return frozenset(rule for rule, enabled in self.rules.items() if not enabled)

    def blocks(self, severity: Level, confidence: Level) -> bool:
        """Whether a finding with these levels rejects a file under this policy."""
        return (
            self.mode == "reject"
            and severity >= self.thresholds.severity
            and confidence >= self.thresholds.confidence
        )

    def with_fail_on(self, severity: Level) -> ScanPolicy:
        """This policy in reject mode with ``severity`` as the threshold (``--fail-on``)."""
        data = self.model_dump()
        data["mode"] = "reject"
        data["thresholds"]["severity"] = severity.label
        return ScanPolicy.model_validate(data)


# --- loading -------------------------------------------------------------------------------


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "rules":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{source}: {key}: {message}")
    return "; ".join(lines)


def policy_from_mapping(data: dict[str, Any], source: str = "<policy>") -> ScanPolicy:
    """Validate a complete policy mapping; errors name ``source`` and the key."""
    try:
        return ScanPolicy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, source)) from None


def default_policy_path() -> Path:
    return policy_dir() / "scan.yaml"


@lru_cache(maxsize=8)
def _load_cached(path: str, overlay: str | None, stamp: tuple[int, ...]) -> ScanPolicy:
    base = read_policy_file(path)
    if overlay is None:
        return policy_from_mapping(base, path)
    return policy_from_mapping(_merge(base, read_policy_file(overlay)), overlay)


def _stamp(*paths: str) -> tuple[int, ...]:
    stamp: list[int] = []
    for path in paths:
        try:
            stat = os.stat(path)
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
        stamp += [stat.st_mtime_ns, stat.st_size]
    return tuple(stamp)


def load_scan_policy(path: str | os.PathLike[str] | None = None) -> ScanPolicy:
    """The default scan policy, or the file at ``path`` laid over it.

    Results are cached per file and reloaded when a file changes.
    """
    base = str(default_policy_path())
    if path is None:
        return _load_cached(base, None, _stamp(base))
    overlay = str(path)
    return _load_cached(base, overlay, _stamp(base, overlay))
