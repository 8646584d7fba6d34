"""Program metadata: the model, its loading, and checking values against its JSON Schemas.

Metadata has the original service's shape::

    {"name": "hello-world", "description": "...", "max_execution_time": 300,
     "version": "1.0", "is_public": false,
     "spec": {"backend_requirements": {"min_num_qubits": 5},
              "parameters": {...}, "return_values": {...}, "interim_results": {...}}}

``name`` matches :data:`NAME_PATTERN` (letters, digits, ``-`` and ``_``, starting with a letter
or digit, as in ``hello-world``); unknown fields are refused so that a typo is reported, not
ignored. ``spec.parameters``, ``spec.return_values`` and ``spec.interim_results`` are JSON
Schemas (draft 2019-09).

The schemas come from users, so they are treated as hostile:

- *Size.* Each schema is bounded in bytes, nesting depth and node count
  (``policies/metadata.yaml``), checked by an iterative walk before anything else reads it.
- *References.* Only same-document references (``"$ref": "#/..."``) are allowed, ``$id`` is
  refused (it would move the base URI), every reference must resolve when the metadata is
  loaded, and validation runs with a ``referencing`` registry whose retrieval always fails,
  so no schema can make the engine fetch anything.
- *Regular expressions.* ``pattern`` and ``patternProperties`` are matched with RE2
  (``google-re2``), an automaton-based engine whose matching time is linear in the input;
  no user pattern ever reaches Python's backtracking ``re``. A pattern must compile under
  RE2 within ``schemas.max_pattern_memory`` (so lookaround and backreferences are refused at
  load time) and is at most ``schemas.max_pattern_length`` characters. The one place where
  ``jsonschema`` itself would run a pattern through ``re`` (``unevaluatedProperties`` next to
  ``patternProperties``) is refused at load time. ``format`` is an annotation only, as
  draft 2019-09 specifies.
- *Work.* Validation is metered: every keyword evaluation costs a step (more for keywords
  whose work grows with the value, such as ``enum``, ``uniqueItems`` or ``pattern``), and a
  value that needs more than ``validation.max_steps`` steps is refused. Exponential
  combinations of ``anyOf``/``oneOf``/``$ref`` therefore end with an error in bounded time,
  whatever the schema. ``uniqueItems`` uses hashing instead of ``jsonschema``'s quadratic
  comparison, and messages quote values through a bounded ``repr``.

Values are checked against the schemas as the program sees them, after ``RuntimeDecoder``:
numpy arrays count as arrays, numpy scalars as numbers, tuples and sets as arrays; other
objects (a ``QuantumCircuit``, a complex number, bytes) match no JSON type, so they pass only
a schema that does not constrain their type.

The package, each module importing only those listed before it: ``problems`` (locations
and wording) and ``bounds`` (the bounded walk), ``limits`` (the policy), ``views`` (a value as
JSON Schema sees it), ``schema_checks`` (a schema checked as hostile), ``model``,
``loading`` and ``validation`` (metered). The names below are its public interface.
"""

from __future__ import annotations

from engine.metadata.limits import (  # noqa: F401 (the limit models stay importable from here)
    DocumentLimits,
    ExecutionTimeLimits,
    MetadataPolicy,
    SchemaLimits,
    ValidationLimits,
    metadata_policy,
)
from engine.metadata.loading import load_metadata
from engine.metadata.model import NAME_PATTERN, BackendRequirements, ProgramMetadata, ProgramSpec
from engine.metadata.schema_checks import DRAFT_2019_09, check_schema
from engine.metadata.validation import validate_inputs, validate_value

__all__ = [
    "DRAFT_2019_09",
    "NAME_PATTERN",
    "BackendRequirements",
    "MetadataPolicy",
    "ProgramMetadata",
    "ProgramSpec",
    "check_schema",
    "load_metadata",
    "metadata_policy",
    "validate_inputs",
    "validate_value",
]
