"""Locating and reading the policy files under ``policies/``.

Policies are data, not code: every limit the engine enforces has its default in a YAML file
there. This module only finds and parses the files; each concern validates its own policy
with a pydantic model. It is pure (standard library and PyYAML), so the sandbox runner may
import it.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import PolicyError

POLICY_DIR_ENV = "ENGINE_POLICY_DIR"
MAX_POLICY_BYTES = 1_000_000


def packaged_dir(name: str) -> Path:
    """A data folder shipped inside the ``engine`` package (``policies``, ``sandbox_images``).

    In the repository they are the top-level folders (``engine/NAME`` links to ``../NAME``);
    in an installed wheel they are package data. Either way they are read through
    :mod:`importlib.resources`, so an install that is not editable finds them too.
    """
    return Path(str(resources.files("engine").joinpath(name)))


def policy_dir() -> Path:
    """The folder holding the policy files: ``$ENGINE_POLICY_DIR`` or the packaged ones."""
    configured = os.environ.get(POLICY_DIR_ENV)
    return Path(configured) if configured else packaged_dir("policies")


def read_policy_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse one policy file (YAML or JSON) into a mapping; errors name the file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError(f"{path}: policy file larger than {MAX_POLICY_BYTES} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: a policy file must hold a mapping at the top level")
    return data


def load_policy(name: str) -> dict[str, Any]:
    """Read ``policies/NAME.yaml``."""
    return read_policy_file(policy_dir() / f"{name}.yaml")


Model = TypeVar("Model", bound=BaseModel)


def validate_policy(model: type[Model], data: Mapping[str, Any], source: str) -> Model:
    """Validate a parsed policy with its model; a :class:`PolicyError` names ``source`` and
    every bad key with its rule, and suggests the nearest known key for a misspelt one."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(model, error) for error in exc.errors(include_url=False))
        raise PolicyError(f"{source}: invalid policy: {problems}") from None


def _problem(model: type[BaseModel], error: Any) -> str:
    location = tuple(error["loc"])
    text = f"{'.'.join(str(part) for part in location) or '(top level)'}: {error['msg']}"
    if error["type"] == "extra_forbidden" and location:
        nearest = difflib.get_close_matches(str(location[-1]), _known_keys(model, location[:-1]),
                                            n=1)
        if nearest:
            text += f" (did you mean {nearest[0]!r}?)"
    return text


def _known_keys(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at ``location`` (through nested models, dicts, lists)."""
    current: Any = model
    for part in location:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field is not None else None
        else:  # a dict's value or a list's item
            args = [arg for arg in get_args(current) if arg is not type(None)]
            current = args[-1] if args else None
        args = [arg for arg in get_args(current) if arg is not type(None)]
        if args and get_origin(current) in (Union, UnionType):
            current = args[0]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def load_policy_model(name: str, model: type[Model]) -> Model:
    """``policies/NAME.yaml``, validated with ``model``."""
    return validate_policy(model, load_policy(name), str(policy_dir() / f"{name}.yaml"))
