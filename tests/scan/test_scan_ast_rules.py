"""The engine's ast rules, one group of cases per rule: what must fire, and what must not."""

from __future__ import annotations

import pytest

from engine.scan import RULES, Level
from tests.scan.conftest import rule_ids, with_changes

# (rule, snippet): the snippet must produce a finding of the rule.
FIRES = [
    # PE101 import-denied
    ("PE101", "import os"),
    ("PE101", "import os.path as p"),
    ("PE101", "from subprocess import run"),
    ("PE101", "def f():\n    import socket\n"),
    ("PE101", "if True:\n    import ctypes\n"),
    ("PE101", "try:\n    import pickle\nexcept ImportError:\n    pass\n"),
    ("PE101", "from numpy import ctypeslib"),
    ("PE101", "from typing import get_type_hints"),
    ("PE101", "import importlib\nimportlib.import_module('os')"),
    ("PE101", "__import__('socket')"),
    # PE102 import-unlisted
    ("PE102", "import pandas"),
    ("PE102", "from requests_toolbelt import x"),
    ("PE102", "import helpers"),
    # PE103 import-relative
    ("PE103", "from . import sibling"),
    ("PE103", "from ..engine import runner"),
    # PE104 import-dynamic
    ("PE104", "__import__(name)"),
    ("PE104", "m = __import__"),
    ("PE104", "import importlib\nimportlib.import_module(name)"),
    ("PE104", "from importlib import import_module as im\nim('o' + 's')"),
    ("PE104", "import importlib\nimportlib.__import__(name)"),
    # PE105 name-denied
    ("PE105", "import os as o\no.system('x')"),
    ("PE105", "from os import system as s\ns('x')"),
    ("PE105", "import numpy as np\nnp.ctypeslib.load_library('a', 'b')"),
    ("PE105", "import logging\nlogging.handlers.SocketHandler('h', 1)"),
    ("PE105", "import subprocess as sp\nrunner = sp.run\nrunner(['id'])"),
    # PE106 import-star (more cases in test_scan_families.py)
    ("PE106", "from operator import *"),
    # PE201 dynamic-code
    ("PE201", "exec('x = 1')"),
    ("PE201", "eval('1 + 1')"),
    ("PE201", "compile('x', '<s>', 'exec')"),
    ("PE201", "e = exec\ne('x')"),
    ("PE201", "def f(runner=exec):\n    runner('x')\n"),
    ("PE201", "(lambda: eval)()('1')"),
    ("PE201", "[(r := eval)(t) for t in ts]"),
    ("PE201", "a, b = exec, print\na('x')"),
    ("PE201", "class C:\n    run = exec\n"),
    # PE202 code-object
    ("PE202", "import types\ntypes.CodeType(0)"),
    ("PE202", "import types as t\nf = t.FunctionType(g.__code__, {})"),
    ("PE202", "from types import FunctionType"),
    ("PE202", "from types import LambdaType as L\nL(c, {})"),
    # PE203 unpickle
    ("PE203", "import numpy as np\nnp.load(f, allow_pickle=True)"),
    ("PE203", "import numpy as np\nnp.load(f, allow_pickle=flag)"),
    # PE204 annotation-code
    ("PE204", "def f(x: \"__import__('os').system('id')\"): pass"),
    ("PE204", 'def f() -> "print(1)": pass'),
    ("PE204", 'x: "[c for c in ()]" = 1'),
    # PE301 escape-attribute
    ("PE301", "().__class__.__base__.__subclasses__()"),
    ("PE301", "f.__globals__"),
    ("PE301", "f.__code__ = g.__code__"),
    ("PE301", "m.__loader__"),
    ("PE301", "print.__self__"),
    ("PE301", "object.__getattribute__(o, n)"),
    ("PE301", "x.__reduce_ex__(2)"),
    # PE302 escape-name
    ("PE302", "__builtins__['exec']"),
    ("PE302", "__loader__.load_module('x')"),
    ("PE302", "s = __spec__"),
    # PE303 frame-walk
    ("PE303", "g.gi_frame.f_back"),
    ("PE303", "e.__traceback__.tb_frame"),
    ("PE303", "import sys\nsys._getframe(1)"),
    ("PE303", "getattr(frame, 'f_globals')"),
    ("PE303", "c.cr_frame"),
    # PE304 module-dict
    ("PE304", "import json\njson.__dict__"),
    ("PE304", "import numpy as np\nns = np.__dict__"),
    ("PE304", "import dataclasses\nvars(dataclasses)"),
    ("PE304", "import json as j\ngetattr(j, '__dict__')"),
    # PE305 module-attribute
    ("PE305", "import typing\ntyping.sys"),
    ("PE305", "x.os.system('id')"),
    ("PE305", "import typing\ngetattr(typing, 'sys')"),
    ("PE305", "d['subprocess']"),
    # PE306 sys-modules
    ("PE306", "import logging\nlogging.sys.modules"),
    # PE401 reflective-access
    ("PE401", "getattr(o, name)"),
    ("PE401", "getattr(o, '__glob' + 'als__')"),
    ("PE401", "setattr(o, name, 1)"),
    ("PE401", "delattr(o, f'{x}')"),
    ("PE401", "g = getattr\ng(o, name)"),
    ("PE401", "import operator\noperator.attrgetter(path)"),
    ("PE401", "getattr(*args)"),
    ("PE401", "globals()[name]"),
    ("PE401", "vars(o)[key]"),
    ("PE401", "o.__dict__[key]"),
    # PE402 namespace-access
    ("PE402", "globals()"),
    ("PE402", "locals()"),
    ("PE402", "vars()"),
    ("PE402", "g = globals\ng()"),
    # PE403 escape-string
    ("PE403", "getattr(f, '__globals__')"),
    ("PE403", "'{0.__globals__}'.format(f)"),
    ("PE403", "getattr(f, '\\x5f\\x5fglobals\\x5f\\x5f')"),
    ("PE403", "key = 'f_globals'"),
    ("PE403", "import operator\noperator.attrgetter('__class__.__subclasses__')"),
    # PE404 builtin-alias
    ("PE404", "g = getattr"),
    ("PE404", "import functools\nfunctools.partial(setattr, o)"),
    ("PE404", "handlers = [open]"),
    ("PE404", "v = vars"),
    # PE405 format-computed
    ("PE405", "def describe(template, value):\n    return template.format(value)\n"),
    # PE406 unpacked-arguments
    ("PE406", "import numpy as np\nnp.load(f, **{key: True})"),
    # PE501 file-write
    ("PE501", "open('/etc/passwd', 'w')"),
    ("PE501", "open('out.txt', 'a')"),
    ("PE501", "open('/tmp/../etc/x', 'w')"),
    ("PE501", "open(file='/home/x', mode='x')"),
    ("PE501", "open(path, 'wb')"),
    ("PE501", "open(path, mode)"),
    ("PE501", "import io\nio.open('/var/x', 'w+')"),
    ("PE501", "import codecs\ncodecs.open('/x', 'w')"),
    ("PE501", "import numpy as np\nnp.save('/var/x.npy', a)"),
    ("PE501", "import numpy as np\nnp.memmap('/x.dat')"),
    ("PE501", "P = '/etc/x'\nopen(P, 'w')"),
    ("PE501", "w = open\nw('/etc/x', 'w')"),
    # PE502 debugger
    ("PE502", "breakpoint()"),
    ("PE502", "stop = breakpoint\nstop()"),
    # PE503 stdin-read
    ("PE503", "input()"),
    ("PE503", "def f():\n    return input('?')\n"),
    ("PE503", "ask = input\nask()"),
]

# (rule, snippet): the snippet must NOT produce a finding of the rule.
QUIET = [
    ("PE101", "import json\nimport math\nfrom qiskit import QuantumCircuit"),
    ("PE101", "from qiskit_ibm_runtime.program import UserMessenger"),
    ("PE101", "from qiskit.providers.ibmq.runtime import ProgramBackend"),
    ("PE102", "import numpy as np\nfrom scipy.optimize import minimize"),
    ("PE102", "from __future__ import annotations"),
    ("PE104", "import json\njson.loads('1')"),
    ("PE105", "import numpy as np\nnp.linalg.norm(x)"),
    ("PE201", "def f(exec):\n    exec('x')\n"),
    ("PE201", "def f():\n    compile = make()\n    compile(1)\n"),
    ("PE201", "qc.compile()"),
    ("PE201", "x = [exec for exec in items]"),
    ("PE201", "'exec is mentioned in a string'"),
    ("PE202", "import types\ntypes.SimpleNamespace(a=1)"),
    ("PE203", "import numpy as np\nnp.load(f, allow_pickle=False)"),
    ("PE204", "def f(x: 'QuantumCircuit') -> 'list[dict[str, int]]': pass"),
    ("PE204", "def f(x: 'int | None' = None): pass"),
    ("PE204", "x: 'typing.Optional[np.ndarray]' = None"),
    ("PE301", "self.__class__.__name__"),
    ("PE301", "def __init__(self):\n    super().__init__()\n"),
    ("PE302", "if __name__ == '__main__':\n    pass\n"),
    ("PE303", "result.backend_name"),
    ("PE304", "self.__dict__"),
    ("PE304", "json.dumps(obj.__dict__)"),
    ("PE305", "counts['0']"),
    ("PE401", "getattr(backend, 'name', None)"),
    ("PE401", "setattr(self, 'shots', 1)"),
    ("PE401", "self.__dict__['shots']"),
    ("PE402", "def f(globals_=None):\n    return globals_\n"),
    ("PE403", '"""A docstring may mention __globals__."""'),
    ("PE403", "name = '__main__'"),
    ("PE404", "getattr(o, 'x')"),
    ("PE501", "open('/tmp/result.json', 'w')"),
    ("PE501", "open('data.json')"),
    ("PE501", "open(path)"),
    ("PE501", "open(path, 'rb')"),
    ("PE501", "P = '/tmp/out.txt'\nopen(P, 'w')"),
    ("PE501", "import numpy as np\nnp.save('/tmp/a.npy', a)"),
    ("PE502", "def breakpoint_free():\n    pass\n"),
    ("PE503", "def main(backend, user_messenger, input=None):\n    return input\n"),
    ("PE503", "def f(input):\n    return input()\n"),
]


@pytest.mark.parametrize(
    ("rule", "snippet"), FIRES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FIRES)]
)
def test_rule_fires(scan, rule, snippet):
    report = scan(snippet)
    assert rule in rule_ids(report), [(f.rule_id, f.message) for f in report.findings]


@pytest.mark.parametrize(
    ("rule", "snippet"), QUIET, ids=[f"{r}-{i}" for i, (r, _) in enumerate(QUIET)]
)
def test_rule_stays_quiet(scan, rule, snippet):
    report = scan(snippet)
    assert rule not in rule_ids(report), [(f.rule_id, f.message) for f in report.findings]


def test_every_engine_rule_has_cases():
    covered = {rule for rule, _ in FIRES}
    ast_rules = {rule for rule in RULES if "101" <= rule[2:] <= "599"}
    assert ast_rules <= covered, sorted(ast_rules - covered)


def test_every_rule_is_documented():
    for rule in RULES.values():
        assert rule.id.startswith("PE") and len(rule.id) == 5
        assert rule.name and rule.name == rule.name.lower()
        assert rule.rationale.endswith(".") and "\n" not in rule.rationale
        assert isinstance(rule.severity, Level)


def test_alias_call_is_reported_where_it_is_called(scan):
    report = scan("e = exec\n\n\ndef later():\n    e('x')\n")
    lines = sorted(f.line for f in report.findings if f.rule_id == "PE201")
    assert lines == [1, 5]


def test_alias_to_module_reports_each_use(scan):
    report = scan("import os as o\no.getcwd()\no.listdir('/')\n")
    uses = [f for f in report.findings if f.rule_id == "PE105"]
    assert [f.line for f in uses] == [2, 3]
    assert "os.getcwd" in uses[0].message


def test_unlisted_severity_follows_the_policy(scan, policy):
    lenient = with_changes(policy, imports={"unlisted_severity": "low"})
    finding = next(f for f in scan("import pandas", lenient).findings if f.rule_id == "PE102")
    assert finding.severity is Level.LOW
    assert scan("import pandas", lenient).accepted


def test_allow_more_and_deny_more(scan, policy):
    changed = with_changes(policy, imports={"allow_more": ["pandas"], "deny_more": ["statistics"]})
    assert "PE102" not in rule_ids(scan("import pandas", changed))
    assert "PE101" in rule_ids(scan("import statistics", changed))


def test_a_longer_allow_entry_wins_over_a_shorter_deny(scan, policy):
    changed = with_changes(policy, imports={"allow_more": ["os.path"]})
    assert "PE101" not in rule_ids(scan("from os.path import join", changed))
    assert "PE101" in rule_ids(scan("from os import system", changed))


def test_scratch_dirs_come_from_the_policy(scan, policy):
    changed = with_changes(policy, scratch_dirs=["/scratch"])
    assert "PE501" in rule_ids(scan("open('/tmp/x', 'w')", changed))
    assert "PE501" not in rule_ids(scan("open('/scratch/x', 'w')", changed))


def test_write_severity_depends_on_what_is_known(scan):
    def severity(snippet):
        return next(f.severity for f in scan(snippet).findings if f.rule_id == "PE501")

    assert severity("open('/etc/x', 'w')") is Level.HIGH
    assert severity("open(p, 'w')") is Level.MEDIUM
    assert severity("open(f'/tmp/{name}.json', 'w')") is Level.LOW


def test_findings_point_at_the_code(scan):
    report = scan("import json\n\nvalue = json.loads('1') + eval('2')\n")
    finding = next(f for f in report.findings if f.rule_id == "PE201")
    assert (finding.line, finding.column) == (3, 27)
    assert finding.source_line == "value = json.loads('1') + eval('2')"
    assert finding.origin == "engine" and finding.cwe == RULES["PE201"].cwe


def test_columns_count_characters_not_bytes(scan):
    report = scan("θ = 1; φ = eval('θ')\n")
    finding = next(f for f in report.findings if f.rule_id == "PE201")
    assert finding.column == 12


def test_a_rule_switched_off_reports_nothing(scan, policy):
    changed = with_changes(policy, rules={"PE201": False})
    report = scan("exec('x')", changed)
    assert "PE201" not in rule_ids(report)
    assert "B102" in rule_ids(report)  # bandit still sees it


def test_resolution_survives_alias_cycles(scan):
    report = scan("a = b\nb = a\na()\nc = exec\nd = c\nd('x')\n")
    assert [f.line for f in report.findings if f.rule_id == "PE201"] == [4, 6]
