"""Scanner throughput: files per second on realistic 200-line Qiskit programs.

Generates a corpus of programs (seeded, so every run reviews the same files), then measures,
interleaved over several rounds, the rate of each in files per second: the median, min and
max over the rounds by wall clock, and the same by CPU time (which a busy machine disturbs
less, printed for orientation; the targets are judged on the wall-clock median):

- ``full scanner``: ``engine.scan.scan_paths`` on the folder (every pass, bandit included);
- ``full scanner, all bandit tests``: the same with no bandit test skipped (``bandit.skip``
  emptied, ``bandit.skip_redundant`` off);
- ``bare bandit``: bandit's ``BanditManager`` with its default configuration on the folder,
  as ``bandit -r`` runs it (reads, tokenizes, parses and visits every file itself);
- ``engine without bandit``: size, decoding and text checks, the parse and the ast pass;
- ``ast pass alone``: the engine's ast pass on trees parsed beforehand.

Targets: the full scanner's median rate at least 100 files/s, and its median time no more
than 1.5x bare bandit's median time.

    .venv/bin/python bench/scan.py [--files 200] [--rounds 9] [--lines 200] [--quick]
"""

from __future__ import annotations

import argparse
import ast
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bandit import __version__ as bandit_version  # noqa: E402
from bandit.core import config as b_config  # noqa: E402
from bandit.core import manager as b_manager  # noqa: E402
from table import Figure, Target, add_quick_flag, print_figures  # noqa: E402

from engine.scan import load_scan_policy, scan_paths  # noqa: E402
from engine.scan.ast_rules import AstPass  # noqa: E402
from engine.scan.scanner import review  # noqa: E402
from engine.scan.source import SourceText  # noqa: E402

# --- a corpus of realistic programs ---------------------------------------------------------

HEADER = '''"""{title}.

{summary}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import Parameter, ParameterVector
from scipy.optimize import minimize

DEFAULT_SHOTS = {shots}
OPTIMIZERS = ("COBYLA", "Nelder-Mead", "Powell")
'''

BLOCKS = [
    '''

@dataclass
class {Cls}Settings:
    """Validated settings of one {noun} run."""

    num_qubits: int = {nq}
    reps: int = {reps}
    shots: int = DEFAULT_SHOTS
    seed: int | None = None
    labels: list[str] = field(default_factory=list)

    @classmethod
    def from_inputs(cls, inputs: dict[str, Any]) -> "{Cls}Settings":
        """Build settings from the program's keyword inputs, naming any bad field."""
        known = {{"num_qubits", "reps", "shots", "seed", "labels"}}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise ValueError(f"unknown input(s): {{', '.join(unknown)}}")
        settings = cls(**inputs)
        if settings.num_qubits < 1 or settings.num_qubits > {maxq}:
            raise ValueError(f"num_qubits must be 1..{maxq}, got {{settings.num_qubits}}")
        if settings.shots < 1:
            raise ValueError("shots must be positive")
        return settings
''',
    '''

def {fn}_circuit(num_qubits: int, reps: int, {arg}: float = {val}) -> QuantumCircuit:
    """A layered ansatz: rotations on every qubit, then a chain of CX gates."""
    theta = ParameterVector("theta", num_qubits * (reps + 1))
    circuit = QuantumCircuit(num_qubits, name="{fn}")
    index = 0
    for layer in range(reps + 1):
        for qubit in range(num_qubits):
            circuit.ry(theta[index] * {arg}, qubit)
            index += 1
        if layer < reps:
            for qubit in range(num_qubits - 1):
                circuit.cx(qubit, qubit + 1)
            circuit.barrier()
    circuit.measure_all()
    return circuit
''',
    '''

def {fn}_expectation(counts: dict[str, int], weights: list[float] | None = None) -> float:
    """The mean of a diagonal observable over measured bitstrings."""
    total = sum(counts.values())
    if total == 0:
        raise ValueError("no shots were recorded")
    value = 0.0
    for bits, count in counts.items():
        parity = bits.count("1") % 2
        weight = 1.0 if weights is None else weights[len(bits) % len(weights)]
        value += (-1) ** parity * weight * count
    return value / total
''',
    '''

def {fn}_edges(num_nodes: int, density: float = {val}, seed: int | None = None):
    """A reproducible random graph as a list of weighted edges."""
    rng = np.random.default_rng(seed)
    edges = []
    for i in range(num_nodes):
        for j in range(i + 1, num_nodes):
            if rng.random() < density:
                edges.append((i, j, float(rng.uniform(0.5, {maxw}))))
    if not edges:
        edges.append((0, 1, 1.0))
    return edges
''',
    '''

def {fn}_cut(bitstring: str, edges: list[tuple[int, int, float]]) -> float:
    """The weight of the edges cut by a bitstring (rightmost bit is node 0)."""
    last = len(bitstring) - 1
    return sum(w for i, j, w in edges if bitstring[last - i] != bitstring[last - j])
''',
    '''

class {Cls}Result:
    """A summary of one run that travels as JSON."""

    def __init__(self, energy: float, parameters: list[float], history: list[float]):
        self.energy = energy
        self.parameters = list(parameters)
        self.history = list(history)

    def to_json(self) -> str:
        return json.dumps(
            {{"energy": self.energy, "parameters": self.parameters, "history": self.history}}
        )

    @classmethod
    def from_json(cls, text: str) -> "{Cls}Result":
        data = json.loads(text)
        return cls(data["energy"], data["parameters"], data["history"])

    def best(self) -> float:
        return min(self.history) if self.history else math.inf
''',
    '''

def {fn}_bind(circuit: QuantumCircuit, values) -> QuantumCircuit:
    """Bind parameters in order, checking the count first."""
    parameters = list(circuit.parameters)
    if len(parameters) != len(values):
        raise ValueError(f"expected {{len(parameters)}} values, got {{len(values)}}")
    return circuit.assign_parameters(dict(zip(parameters, values, strict=True)))
''',
    '''

def {fn}_normalise(counts: dict[str, int]) -> dict[str, float]:
    """Counts as probabilities, sorted by bitstring."""
    total = sum(counts.values()) or 1
    return {{bits: counts[bits] / total for bits in sorted(counts)}}


def {fn}_entropy(probabilities: dict[str, float]) -> float:
    """Shannon entropy in bits."""
    return -sum(p * math.log2(p) for p in probabilities.values() if p > 0)
''',
    '''

def {fn}_phase_circuit(num_qubits: int, angle: float = {val}) -> QuantumCircuit:
    """A phase-estimation style circuit with a fixed rotation."""
    phi = Parameter("phi")
    circuit = QuantumCircuit(num_qubits + 1, num_qubits)
    circuit.x(num_qubits)
    for qubit in range(num_qubits):
        circuit.h(qubit)
        for _ in range(2**qubit):
            circuit.cp(phi, qubit, num_qubits)
    for qubit in range(num_qubits // 2):
        circuit.swap(qubit, num_qubits - qubit - 1)
    circuit.measure(range(num_qubits), range(num_qubits))
    return circuit.assign_parameters({{phi: angle}})
''',
]

MAIN = '''

def main(backend, user_messenger, **kwargs):
    """Entry point: build, transpile and optimise, publishing every evaluation."""
    num_qubits = int(kwargs.pop("num_qubits", {nq}))
    reps = int(kwargs.pop("reps", {reps}))
    shots = int(kwargs.pop("shots", DEFAULT_SHOTS))
    optimizer = kwargs.pop("optimizer", "COBYLA")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {{OPTIMIZERS}}")
    circuit = transpile({first}_circuit(num_qubits, reps), backend, seed_transpiler={seed})
    history: list[float] = []

    def objective(values):
        bound = {first}_bind(circuit, values)
        counts = backend.run(bound, shots=shots).result().get_counts()
        energy = {first}_expectation(counts)
        history.append(energy)
        user_messenger.publish({{"iteration": len(history), "energy": energy}})
        return energy

    x0 = np.zeros(circuit.num_parameters)
    outcome = minimize(objective, x0, method=optimizer, options={{"maxiter": {maxiter}}})
    return {{"energy": float(outcome.fun), "parameters": [float(v) for v in outcome.x],
            "history": history}}
'''

WORDS = ["vqe", "qaoa", "sampler", "estimator", "kernel", "phase", "grover", "ising", "maxcut"]


def make_program(rng: random.Random, lines: int) -> str:
    """One program of about ``lines`` lines, varied by ``rng``."""
    word = rng.choice(WORDS)
    text = HEADER.format(
        title=f"A {word} program",
        summary=f"Runs a {word} workflow on the given backend and publishes interim results.",
        shots=rng.choice([512, 1024, 2048, 4096]),
    )
    first = f"{word}{rng.randrange(100)}"
    parts = [
        BLOCKS[1].format(fn=first, arg="scale", val=1.0),
        BLOCKS[2].format(fn=first),
        BLOCKS[6].format(fn=first),
    ]
    count = 0
    while (text + "".join(parts) + MAIN).count("\n") < lines:
        count += 1
        block = rng.choice(BLOCKS)
        parts.append(
            block.format(
                fn=f"{rng.choice(WORDS)}_{count}",
                Cls=f"{rng.choice(WORDS).title()}{count}",
                noun=rng.choice(WORDS),
                nq=rng.randint(2, 8),
                maxq=rng.randint(10, 30),
                reps=rng.randint(1, 4),
                arg=rng.choice(["scale", "alpha", "gamma"]),
                val=round(rng.uniform(0.1, 2.0), 3),
                maxw=round(rng.uniform(1.0, 5.0), 2),
            )
        )
    return (
        text
        + "".join(parts)
        + MAIN.format(
            first=first,
            nq=rng.randint(2, 6),
            reps=rng.randint(1, 3),
            seed=rng.randrange(1000),
            maxiter=rng.choice([50, 100, 200]),
        )
    )


def write_corpus(folder: Path, files: int, lines: int, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    paths = []
    for index in range(files):
        path = folder / f"program_{index:04d}.py"
        path.write_text(make_program(rng, lines), encoding="utf-8")
        paths.append(path)
    return paths


# --- the measurements -----------------------------------------------------------------------


def bare_bandit(folder: Path) -> None:
    manager = b_manager.BanditManager(b_config.BanditConfig(), "file", quiet=True)
    manager.discover_files([str(folder)], recursive=True)
    manager.run_tests()
    if manager.skipped:
        raise RuntimeError(f"bandit skipped files: {manager.skipped[:3]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    add_quick_flag(parser)
    args = parser.parse_args()
    if args.quick:
        args.files, args.rounds = 20, 2

    policy = load_scan_policy()
    every_test = policy.model_copy(
        update={"bandit": policy.bandit.model_copy(update={"skip": (), "skip_redundant": False})}
    )
    ast_pass = AstPass(policy)

    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        folder = Path(tmp)
        paths = write_corpus(folder, args.files, args.lines)
        sources = [path.read_text(encoding="utf-8") for path in paths]
        trees = [ast.parse(text) for text in sources]
        line_count = statistics.mean(text.count("\n") for text in sources)

        check = scan_paths([folder], policy)
        if not check.accepted:
            raise SystemExit(f"the generated corpus should be accepted: {check.summary()}")

        def engine_without_bandit() -> None:
            quiet = policy.model_copy(
                update={"bandit": policy.bandit.model_copy(update={"enabled": False})}
            )
            for path in paths:
                review(path.read_bytes(), str(path), quiet)

        def ast_alone() -> None:
            for path, text, tree in zip(paths, sources, trees, strict=True):
                ast_pass.run(tree, SourceText(str(path), text))

        measurements: dict[str, Callable[[], object]] = {
            "full scanner": lambda: scan_paths([folder], policy),
            "full scanner, all bandit tests": lambda: scan_paths([folder], every_test),
            "bare bandit": lambda: bare_bandit(folder),
            "engine without bandit": engine_without_bandit,
            "ast pass alone (pre-parsed)": ast_alone,
        }
        times: dict[str, list[float]] = {name: [] for name in measurements}
        cpu: dict[str, list[float]] = {name: [] for name in measurements}
        for _ in range(args.rounds):
            for name, run in measurements.items():
                start, start_cpu = time.perf_counter(), time.process_time()
                run()
                times[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)

    figures = []
    for name, seconds in times.items():
        target = Target.at_least(100) if name == "full scanner" else None
        figures.append(Figure(name, [args.files / t for t in seconds], "files/s", target,
                              decimals=0))
    for name, seconds in cpu.items():
        figures.append(Figure(f"{name} (by CPU time)", [args.files / t for t in seconds],
                              "files/s", decimals=0))
    ratio = statistics.median(times["full scanner"]) / statistics.median(times["bare bandit"])
    figures.append(Figure("full scanner time / bare bandit time (medians)", [ratio], "x",
                          Target.at_most(1.5), decimals=2, note="one ratio of two medians"))
    print_figures(figures, title=f"bench/scan.py: {args.files} generated programs, "
                                 f"{line_count:.0f} lines on average; bandit {bandit_version}")
    return 0 if all(figure.status != "MISSED" for figure in figures) else 1

if __name__ == "__main__":
    raise SystemExit(main())
