"""Load and run the sample programs under ``program_source/`` in-process, as a user would test them.

Samples import the program API as ``qiskit_ibm_runtime.program``, a compatibility module the
sandbox image installs. The host has no such module (the original client no longer has it),
so :func:`compat_modules` puts the image's copy on the path while a sample is imported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import engine.metadata
from engine.errors import InputValidationError
from engine.metadata import ProgramMetadata
from engine.program import UserMessenger
from engine.serialization import RuntimeDecoder, RuntimeEncoder

REPO_ROOT = Path(__file__).resolve().parent.parent
PROGRAM_SOURCE = REPO_ROOT / "program_source"

# The sandbox image's compatibility package, through which programs import the program API.
COMPAT_DIR = REPO_ROOT / "sandbox_images" / "compat"
COMPAT_PACKAGE = "qiskit_ibm_runtime"


def sample_names() -> list[str]:
    """Every sample: a folder under ``program_source/`` holding ``NAME.py``."""
    return sorted(
        path.name for path in PROGRAM_SOURCE.iterdir() if (path / f"{path.name}.py").is_file()
    )


def _package_modules() -> dict[str, ModuleType]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name == COMPAT_PACKAGE or name.startswith(f"{COMPAT_PACKAGE}.")
    }


@contextmanager
def compat_modules() -> Iterator[None]:
    """Make ``qiskit_ibm_runtime.program`` importable while the block runs, as in the sandbox.

    It comes from the image's own compatibility package (``sandbox_images/compat``), which
    re-exports ``engine.program``. A ``qiskit_ibm_runtime`` the host has imported (the
    original client, a test dependency) is set aside meanwhile; afterwards ``sys.path`` and
    ``sys.modules`` are as they were.
    """
    host_modules = _package_modules()
    for name in host_modules:
        del sys.modules[name]
    sys.path.insert(0, str(COMPAT_DIR))
    try:
        yield
    finally:
        sys.path.remove(str(COMPAT_DIR))
        for name in _package_modules():
            del sys.modules[name]
        sys.modules.update(host_modules)


def load_program(name: str) -> ModuleType:
    """Import ``program_source/NAME/NAME.py`` as a fresh module.

    No bytecode is written: a sample's folder is what gets uploaded, so it stays as it is.
    """
    path = PROGRAM_SOURCE / name / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"program_source_sample_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    write_bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with compat_modules():
            spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module


def load_metadata(name: str) -> ProgramMetadata:
    """The sample's metadata, loaded and checked as an upload's would be."""
    return engine.metadata.load_metadata(PROGRAM_SOURCE / name / f"{name}.json")


def load_inputs_text(name: str) -> str:
    """The sample's example inputs, as the JSON ``RuntimeEncoder`` wrote."""
    return (PROGRAM_SOURCE / name / "inputs.json").read_text()


def round_trip(value: Any) -> tuple[str, Any]:
    """``value`` encoded with ``RuntimeEncoder`` and decoded back with ``RuntimeDecoder``."""
    text = json.dumps(value, cls=RuntimeEncoder)
    return text, json.loads(text, cls=RuntimeDecoder)


def violations(schema: Any, value: Any) -> list[tuple[str, str]]:
    """Every violation of ``schema`` by ``value``, checked as the engine checks a decoded value."""
    try:
        engine.metadata.validate_value(schema, value)
    except InputValidationError as error:
        return error.violations
    return []


class WireMessenger(UserMessenger):
    """Keeps every published message as the JSON text that would travel to the user."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.final_texts: list[str] = []

    def publish(
        self,
        message: Any,
        encoder: type[json.JSONEncoder] = RuntimeEncoder,
        final: bool = False,
    ) -> None:
        (self.final_texts if final else self.texts).append(json.dumps(message, cls=encoder))

    def decoded(self) -> list[Any]:
        """The interim messages as a user decodes them."""
        return [json.loads(text, cls=RuntimeDecoder) for text in self.texts]


@dataclass
class SampleRun:
    """One local run of a sample: its inputs, what it published and what it returned.

    ``result`` is what ``main`` returned; ``decoded_result`` is what a user receives.
    """

    name: str
    inputs_text: str
    inputs: dict[str, Any]
    messenger: WireMessenger
    result: Any
    result_text: str
    decoded_result: Any
    program: ModuleType


def run_sample(name: str, backend: Any, inputs_text: str | None = None) -> SampleRun:
    """Run a sample's ``main`` on ``backend`` with inputs encoded and decoded as the service does.

    ``inputs_text`` defaults to the sample's ``inputs.json``.
    """
    text = load_inputs_text(name) if inputs_text is None else inputs_text
    wire_text, inputs = round_trip(json.loads(text, cls=RuntimeDecoder))
    program = load_program(name)
    messenger = WireMessenger()
    result = program.main(backend, messenger, **inputs)
    result_text = json.dumps(result, cls=RuntimeEncoder)
    return SampleRun(
        name=name,
        inputs_text=wire_text,
        inputs=inputs,
        messenger=messenger,
        result=result,
        result_text=result_text,
        decoded_result=json.loads(result_text, cls=RuntimeDecoder),
        program=program,
    )
