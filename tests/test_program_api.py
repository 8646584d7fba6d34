"""The program API as a program's author and user see it: messengers, decoders, local testing."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

import engine
from engine.program import CollectingMessenger, ProgramBackend, ResultDecoder, UserMessenger
from engine.serialization import RuntimeDecoder, RuntimeEncoder

TESTS_DIR = Path(__file__).resolve().parent


class MyCustomClass:
    """The custom class of the original documentation's serialization section."""

    def __init__(self, foo: Any, bar: Any) -> None:
        self._foo = foo
        self._bar = bar

    def to_json(self) -> str:
        return json.dumps({"foo": self._foo, "bar": self._bar})

    @classmethod
    def from_json(cls, json_str: str) -> MyCustomClass:
        return cls(**json.loads(json_str))


class MyResultDecoder(ResultDecoder):
    """The documentation's decoder, calling ``super().decoded(data)``."""

    @classmethod
    def decode(cls, data: Any) -> MyCustomClass:
        data = super().decoded(data)
        return MyCustomClass.from_json(data)


class ExtendingDecoder(ResultDecoder):
    """A decoder extending the base one with ``super().decode(data)``."""

    @classmethod
    def decode(cls, data: Any) -> Any:
        data = super().decode(data)
        return {"decoded_by": cls.__name__, "data": data}


class PointEncoder(RuntimeEncoder):
    """An encoder a program may pass to ``publish`` for its own types."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, MyCustomClass):
            return {"point": [obj._foo, obj._bar]}
        return super().default(obj)


def test_the_api_is_importable_from_engine() -> None:
    assert engine.UserMessenger is UserMessenger
    assert engine.CollectingMessenger is CollectingMessenger
    assert engine.ProgramBackend is ProgramBackend
    assert engine.ResultDecoder is ResultDecoder
    assert engine.RuntimeEncoder is RuntimeEncoder
    assert engine.RuntimeDecoder is RuntimeDecoder


# --- UserMessenger -------------------------------------------------------------------------


def test_publish_prints_the_message_as_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    UserMessenger().publish({"iteration": 1, "value": 1 + 2j, "counts": {"01": 3}})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0], cls=RuntimeDecoder) == {
        "iteration": 1,
        "value": 1 + 2j,
        "counts": {"01": 3},
    }


def test_publish_uses_the_given_encoder(capsys: pytest.CaptureFixture[str]) -> None:
    UserMessenger().publish({"p": MyCustomClass(1, 2)}, encoder=PointEncoder)
    assert json.loads(capsys.readouterr().out) == {"p": {"point": [1, 2]}}


def test_a_final_message_is_printed_too(capsys: pytest.CaptureFixture[str]) -> None:
    UserMessenger().publish("done", final=True)
    assert capsys.readouterr().out.splitlines() == ['"done"']


def test_publish_sends_to_json_objects_as_their_json(capsys: pytest.CaptureFixture[str]) -> None:
    UserMessenger().publish(MyCustomClass("my foo", "my bar"))
    printed = json.loads(capsys.readouterr().out, cls=RuntimeDecoder)
    assert json.loads(printed) == {"foo": "my foo", "bar": "my bar"}


# --- CollectingMessenger -------------------------------------------------------------------


def test_collecting_messenger_keeps_messages_as_a_user_decodes_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    messenger = CollectingMessenger()
    messenger.publish({"iteration": 0, "energy": np.array([1.5, -2.0])})
    messenger.publish({"iteration": 1, "value": 3j})
    messenger.publish("all done", final=True)

    assert capsys.readouterr().out == ""
    assert len(messenger.messages) == 2
    assert messenger.messages[0]["iteration"] == 0
    np.testing.assert_array_equal(messenger.messages[0]["energy"], [1.5, -2.0])
    assert messenger.messages[1] == {"iteration": 1, "value": 3j}
    assert messenger.final_messages == ["all done"]


def test_collecting_messenger_echoes_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    messenger = CollectingMessenger(echo=True)
    messenger.publish({"iteration": 4})
    assert json.loads(capsys.readouterr().out) == {"iteration": 4}
    assert messenger.messages == [{"iteration": 4}]


def test_collecting_messenger_applies_the_given_encoder() -> None:
    messenger = CollectingMessenger()
    messenger.publish(MyCustomClass(3, 4), encoder=PointEncoder)
    assert messenger.messages == [{"point": [3, 4]}]


# --- ResultDecoder -------------------------------------------------------------------------


def test_base_decoder_parses_text_with_the_runtime_decoder() -> None:
    text = json.dumps({"z": 2 - 1j, "n": 5}, cls=RuntimeEncoder)
    assert ResultDecoder.decode(text) == {"z": 2 - 1j, "n": 5}
    assert ResultDecoder.decode(text.encode()) == {"z": 2 - 1j, "n": 5}


def test_base_decoder_returns_decoded_data_as_it_is() -> None:
    data = {"already": ["decoded"]}
    assert ResultDecoder.decode(data) is data


def test_base_decoder_returns_text_that_is_not_json_unchanged() -> None:
    assert ResultDecoder.decode("Hello, World!") == "Hello, World!"


def test_subclass_extends_decode_with_super_decode() -> None:
    text = json.dumps([1j, 2], cls=RuntimeEncoder)
    assert ExtendingDecoder.decode(text) == {"decoded_by": "ExtendingDecoder", "data": [1j, 2]}


def test_documented_decoder_with_super_decoded_rebuilds_the_custom_class() -> None:
    output_text = json.dumps(MyCustomClass("this foo", "that bar"), cls=RuntimeEncoder)
    output = MyResultDecoder.decode(output_text)
    assert isinstance(output, MyCustomClass)
    assert (output._foo, output._bar) == ("this foo", "that bar")


def test_super_decoded_runs_the_base_decoding_not_the_subclass() -> None:
    # ExtendingDecoder overrides decode; decoded() must not route through that override.
    text = json.dumps({"k": 1}, cls=RuntimeEncoder)
    assert ExtendingDecoder.decoded(text) == {"k": 1}


# --- the original service's local-testing recipe ---------------------------------------------


@pytest.fixture
def recipe_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The recipe's working directory and ``sys.path`` edit, undone after the test."""
    monkeypatch.chdir(TESTS_DIR)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # keep program_source/ as it is
    modules_before = set(sys.modules)
    yield
    for name in set(sys.modules) - modules_before:
        if name.startswith("program_source"):
            del sys.modules[name]
    sys.path_importer_cache.pop("..", None)


def check_hello_world_output(out: str, iterations: int) -> None:
    lines = out.splitlines()
    assert len(lines) == iterations
    for expected_iteration, line in enumerate(lines):
        message = json.loads(line, cls=RuntimeDecoder)
        assert message["iteration"] == expected_iteration
        counts = message["counts"]
        assert sum(counts.values()) == 1024  # the simulator's default shots
        assert all(len(bits) == 5 and set(bits) <= {"0", "1"} for bits in counts)


@pytest.mark.usefixtures("recipe_environment")
def test_original_local_testing_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    # The documentation's recipe; only the import lines differ (qiskit 2 has no qiskit.Aer).
    sys.path.insert(0, "..")  # Add the directory holding program_source to the path

    from qiskit_aer import AerSimulator

    from engine import RuntimeDecoder, RuntimeEncoder, UserMessenger
    from program_source.hello_world import hello_world

    inputs = {"iterations": 3}

    backend = AerSimulator()
    user_messenger = UserMessenger()
    serialized_inputs = json.dumps(inputs, cls=RuntimeEncoder)
    deserialized_inputs = json.loads(serialized_inputs, cls=RuntimeDecoder)

    result = hello_world.main(backend, user_messenger, **deserialized_inputs)

    assert result == "Hello, World!"
    check_hello_world_output(capsys.readouterr().out, iterations=3)


@pytest.mark.usefixtures("recipe_environment")
def test_recipe_prints_each_message_as_it_is_published(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sys.path.insert(0, "..")
    from program_source.hello_world import hello_world

    printed: list[str] = []
    lines_before_each_run: list[int] = []

    class WatchingSimulator(AerSimulator):
        """Counts the lines printed so far each time the program runs a circuit."""

        def run(self, run_input: Any, **options: Any) -> Any:
            printed.extend(capsys.readouterr().out.splitlines())
            lines_before_each_run.append(len(printed))
            return super().run(run_input, **options)

    result = hello_world.main(WatchingSimulator(), UserMessenger(), iterations=3)
    printed.extend(capsys.readouterr().out.splitlines())

    assert result == "Hello, World!"
    assert lines_before_each_run == [0, 1, 2]
    check_hello_world_output("\n".join(printed), iterations=3)


# --- ProgramBackend ------------------------------------------------------------------------


def test_program_backend_requires_run() -> None:
    assert "run" in ProgramBackend.__abstractmethods__


class RelayBackend(ProgramBackend):
    """A ProgramBackend shaped like the sandbox's proxy: another backend's target, relayed runs."""

    def __init__(self, target_backend: AerSimulator) -> None:
        super().__init__(name="relay")
        self._backend = target_backend
        self.run_options: list[dict[str, Any]] = []

    @property
    def target(self) -> Any:
        return self._backend.target

    @property
    def max_circuits(self) -> int | None:
        return None

    @classmethod
    def _default_options(cls) -> Any:
        return AerSimulator._default_options()

    def run(self, circuits: Any, timeout: float | None = None, **run_config: Any) -> Any:
        self.run_options.append(run_config)
        return self._backend.run(circuits, **run_config)


def test_a_program_runs_on_a_program_backend() -> None:
    backend = RelayBackend(AerSimulator())
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    counts = backend.run(circuit, shots=200, seed_simulator=5).result().get_counts()

    assert set(counts) <= {"00", "11"}
    assert sum(counts.values()) == 200
    assert backend.run_options == [{"shots": 200, "seed_simulator": 5}]
    assert backend.num_qubits == AerSimulator().num_qubits


def test_the_original_clients_exception_names_are_our_classes() -> None:
    from engine import errors

    assert errors.RuntimeJobFailureError is errors.RuntimeJobFailure
    assert errors.RuntimeProgramNotFound is errors.ProgramNotFound
    assert errors.RuntimeJobNotFound is errors.JobNotFound
    assert errors.RuntimeInvalidStateError is errors.InvalidJobState
    assert errors.RuntimeDuplicateProgramError is errors.DuplicateProgram
    assert errors.RuntimeJobTimeoutError is errors.RuntimeJobTimeout
    assert issubclass(errors.RuntimeJobMaxTimeoutError, errors.RuntimeJobCancelled)
    assert errors.IBMInputValueError is errors.InputValidationError
    for name in ("QiskitRuntimeError", "IBMRuntimeError", "IBMError"):
        assert getattr(errors, name) is errors.EngineError
