"""The families of Python that read attributes, items and modules without saying so (issue 18):
match patterns, format strings, star imports, unpacked arguments, attributes of allowed
modules, sys.modules, codecs, DataSource and logging's files. Each group lists what must be
found, and the near misses that must not be."""

from __future__ import annotations

import pytest

from tests.scan.conftest import rule_ids, with_changes

FIRES = [
    # --- match statements: class patterns read attributes, mapping patterns read items ---
    ("PE301", "match f:\n    case object(__globals__=g):\n        pass\n"),
    ("PE301", "match f:\n    case Point(x=object(__code__=c)):\n        pass\n"),
    ("PE301", "match f:\n    case object(__globals__=g) | object(__closure__=g):\n        pass\n"),
    ("PE303", "match gen:\n    case object(gi_frame=frame):\n        pass\n"),
    ("PE305", "import logging\nmatch logging:\n    case object(os=o):\n        pass\n"),
    ("PE305", "match namespace:\n    case {'subprocess': runner}:\n        pass\n"),
    ("PE305", "class Shim:\n    __match_args__ = ('os', 'name')\n"),
    ("PE301", "class Shim:\n    __match_args__ = ['__globals__']\n"),
    ("PE401", "match vars(obj):\n    case {Keys.secret: value}:\n        pass\n"),
    ("PE306", "import logging\nmatch logging.sys.modules:\n    case {'json': j}:\n        pass\n"),
    # --- format strings: fields are attribute and item reads -------------------------------
    ("PE305", "'{0.os}'.format(module)"),
    ("PE305", "'{0[sys]}'.format(namespace)"),
    ("PE305", "'{m.__dict__[subprocess]}'.format(m=module)"),
    ("PE303", "'{0:>{1.f_back}}'.format(a, frame)"),
    ("PE301", "('{0.__glo' + 'bals__}').format(f)"),
    ("PE305", "('{0.%s}' % 'os').format(module)"),
    ("PE305", "t = 'x {m.os}'\nt.format_map({'m': module})"),
    ("PE305", "f'{{0.os}}'.format(module)"),
    ("PE405", "def render(template, value):\n    return template.format(value)\n"),
    ("PE405", "''.join(parts).format(main)"),
    ("PE405", "t = '{0}'\nt += suffix\nt.format(x)"),
    ("PE405", "main.__doc__.format(main)"),
    ("PE405", "render = str.format\nrender(fmt, value)"),
    ("PE405", "str.format(fmt, value)"),
    ("PE405", "import string\nstring.Formatter().vformat(fmt, [value], {})"),
    ("PE405", "import string\nstring.Formatter().get_field(path, [value], {})"),
    ("PE305", "import string\nstring.Formatter().get_field('0.os', [value], {})"),
    ("PE305", "import string\nstring.Formatter().format('{0.sys}', value)"),
    ("PE405", "import string\nf = string.Formatter()\nf.format('{0}', value)"),
    ("PE405", "import operator\noperator.methodcaller('format', main)"),
    ("PE405", "getattr(template, 'format')(main)"),
    ("PE405", "import logging\nlogging.Formatter(layout, style='{')"),
    ("PE405", "import logging\nlogging.Formatter(layout, None, '{')"),
    ("PE405", "import logging\nlogging.basicConfig(format=layout, style=style)"),
    ("PE301", "import logging\nlogging.Formatter('{msg.__init__.__globals__}', style='{')"),
    # --- star imports ------------------------------------------------------------------------
    ("PE106", "from operator import *"),
    ("PE106", "from numpy import *"),
    ("PE106", "from typing import *"),
    ("PE106", "from qiskit.circuit.library.standard_gates import *"),
    # --- unpacked arguments ------------------------------------------------------------------
    ("PE406", "import numpy as np\nnp.load(f, **{key: True})"),
    ("PE406", "f(**{'allow_' + 'pickle': True})"),
    ("PE406", "f(**{**base})"),
    ("PE406", "import numpy as np\nnp.load(*args)"),
    ("PE406", "open(path, **options)"),
    ("PE406", "import numpy as np\nnp.save(*spec)"),
    ("PE406", "import numpy as np\nnp.savez(**arrays)"),
    ("PE406", "import numpy as np\nload = np.load\nload(f, **options)"),
    ("PE406", "import numpy as np\ngetattr(np, 'load')(f, **options)"),
    ("PE406", "import logging\nlogging.basicConfig(**config)"),
    ("PE203", "import numpy as np\nnp.load(f, **{'allow_pickle': True})"),
    ("PE203", "import numpy as np\nnp.load(f, **dict(allow_pickle=True))"),
    ("PE203", "import numpy as np\nnp.load(f, None, True)"),
    ("PE203", "import numpy as np\nnp.lib.format.read_array(f, True)"),
    ("PE501", "open('/etc/passwd', **{'mode': 'w'})"),
    ("PE404", "import numpy as np\nloaders = [np.load]"),
    ("PE404", "import numpy as np\nsorted(files, key=np.save)"),
    ("PE404", "import numpy as np\nnp.save._implementation('/etc/x', a)"),
    ("PE203", "import numpy as np\nnp.load.__call__(f, None, True)"),
    # --- attributes of allowed modules (the attribute map) -----------------------------------
    ("PE105", "import logging\nlogging.os.getcwd()"),
    ("PE105", "import random\nrandom._urandom(4)"),
    ("PE105", "import random\ngetattr(random, '_urandom')(4)"),
    ("PE105", "from qiskit import version\nversion.subprocess.run([])"),
    ("PE105", "import scipy.linalg._basic as basic\nbasic.np.lib._format_impl.pickle.loads(x)"),
    ("PE105", "import dataclasses\nthreads = dataclasses._thread"),
    ("PE105", "import typing\ntyping._eval_type(hint, {}, {})"),
    ("PE105", "import dataclasses\ndataclasses._create_fn('f', [], body)"),
    ("PE105", "import warnings\nwarnings._getcategory(name)"),
    ("PE101", "from logging import os"),
    ("PE101", "from random import _urandom"),
    ("PE102", "from qiskit.qasm2 import Path"),
    ("PE102", "import logging\nlogging.threading.Thread(target=f)"),
    ("PE102", "import qiskit.qasm2\nwriter = qiskit.qasm2.Path"),
    ("PE306", "import warnings\nwarnings.sys.modules"),
    ("PE306", "import collections\ncollections._sys.modules['os']"),
    ("PE306", "sys.modules['os']"),
    # --- codecs, DataSource, logging's files -------------------------------------------------
    ("PE101", "import codecs"),
    ("PE101", "import encodings.rot_13"),
    ("PE105", "import json\njson.codecs.decode(text, 'rot13')"),
    ("PE105", "import numpy as np\nnp.lib.npyio.DataSource('/tmp')"),
    ("PE105", "import numpy as np\nnp.lib._npyio_impl.DataSource('/tmp')"),
    ("PE101", "from numpy.lib import _datasource"),
    ("PE101", "from numpy.lib.npyio import DataSource"),
    ("PE501", "import logging\nlogging.basicConfig(filename='/var/log/run.log')"),
    ("PE501", "import logging\nlogging.basicConfig(filename=path)"),
    ("PE105", "import logging\nlogging.FileHandler('/tmp/x')"),
    ("PE105", "import logging\nlogging.handlers.RotatingFileHandler('/tmp/x')"),
    ("PE101", "from logging.handlers import RotatingFileHandler"),
    ("PE105", "import qiskit.utils.optionals as o\no._LazySubprocessTester(['id'])"),
    ("PE105", "import qiskit.visualization.dag_visualization as d\nd.subprocess.run(['id'])"),
]

QUIET = [
    # --- match statements ----------------------------------------------------------------------
    (
        ("PE301", "PE303", "PE305", "PE401"),
        "match point:\n"
        "    case Point(x=0, y=y):\n        pass\n"
        "    case (a, b):\n        pass\n"
        "    case 1 | 2:\n        pass\n"
        "    case {'shots': n, **rest}:\n        pass\n"
        "    case str(s) | int(s):\n        pass\n"
        "    case Color.RED:\n        pass\n",
    ),
    (("PE401",), "match vars(obj):\n    case {'shots': n}:\n        pass\n"),
    (("PE305",), "match counts:\n    case {'00': n, '11': m}:\n        pass\n"),
    (("PE305",), "class Point:\n    __match_args__ = ('x', 'y')\n"),
    # --- format strings ------------------------------------------------------------------------
    (("PE405",), "'{} {:.3f}'.format(a, b)"),
    (("PE405",), "t = 'E = {energy:.4f}'\nt.format(energy=e)"),
    (("PE405",), "('{:d}' if n else '{:.2f}').format(x)"),
    (("PE405",), "'{0}: {1}'.format(*row)"),
    (("PE405",), "x.format()"),
    (("PE405",), "'{name}: {value}'.format_map(row)"),
    (("PE405",), "import numpy as np\nheader = np.lib.format.read_magic(f)"),
    (("PE405",), "import logging\nlogging.Formatter(layout)"),
    (("PE405",), "import logging\nlogging.Formatter(layout, style='%')"),
    (("PE405",), "import logging\nlogging.basicConfig(format=layout)"),
    (("PE301", "PE305"), "'{0.name} has {0.num_qubits} qubits'.format(backend)"),
    (("PE305",), "'{0[00]} of {1}'.format(counts, shots)"),
    (("PE305",), "'{\"a\": 1, \"os\": 2}'"),
    (("PE305",), "'{' + 'unbalanced'"),
    # --- star imports ------------------------------------------------------------------------
    (("PE106",), "from math import *"),
    (("PE106",), "from cmath import *"),
    (("PE106",), "from qiskit import *"),
    (("PE106",), "from qiskit.circuit.library import *"),
    # --- unpacked arguments ------------------------------------------------------------------
    (("PE406",), "f(**options)"),
    (("PE406",), "cls(**{k: v for k, v in inputs.items() if k in known})"),
    (("PE406",), "f(**{'shots': 1, 'seed': 2})"),
    (("PE406",), "f(**{})"),
    (("PE406", "PE203"), "import numpy as np\nnp.load(f, **{'mmap_mode': 'r'})"),
    (("PE406",), "import numpy as np\nnp.zeros(*shape)"),
    (("PE406", "PE501"), "import numpy as np\nnp.savez('/tmp/a.npz', **arrays)"),
    (("PE406", "PE501"), "import numpy as np\nnp.savez_compressed('/tmp/a.npz', *arrays)"),
    (("PE203",), "import numpy as np\nnp.load(f, None, False)"),
    (("PE203",), "import numpy as np\nnp.load(f, 'r')"),
    (("PE404",), "import numpy as np\nload = np.load\nload(f)"),
    (("PE404",), "import numpy as np\nnp.save('/tmp/a.npy', a)"),
    (("PE404",), "import numpy as np\nprint(np.save.__name__, np.load.__doc__)"),
    # --- attributes of allowed modules -------------------------------------------------------
    (("PE102", "PE105"), "import numpy as np\nnp.linalg.norm(x)"),
    (("PE102", "PE105"), "import scipy.linalg._basic as basic\nbasic.np.zeros(3)"),
    (("PE102", "PE105", "PE501"), "import io\nio.open('/tmp/x.txt', 'w')"),
    (("PE101", "PE102"), "from scipy.linalg._basic import np"),
    (("PE102", "PE105"), "import functools\nfunctools.reduce(f, xs)"),
    (("PE102", "PE105"), "import qiskit\nqiskit.QuantumCircuit(2)"),
    (("PE102", "PE105"), "from qiskit.circuit.library import RealAmplitudes"),
    (("PE306",), "model.modules()"),
    (("PE306",), "self.modules = []"),
    # --- logging -----------------------------------------------------------------------------
    (("PE501",), "import logging\nlogging.basicConfig(level=logging.INFO)"),
    (("PE501",), "import logging\nlogging.basicConfig(filename='/tmp/run.log')"),
]


@pytest.mark.parametrize(
    ("rule", "snippet"), FIRES, ids=[f"{r}-{i}" for i, (r, _) in enumerate(FIRES)]
)
def test_family_is_found(scan, rule, snippet):
    report = scan(snippet)
    assert rule in rule_ids(report), [(f.rule_id, f.message) for f in report.findings]
    assert not report.accepted


@pytest.mark.parametrize(
    ("rules", "snippet"), QUIET, ids=[f"{'-'.join(r)}-{i}" for i, (r, _) in enumerate(QUIET)]
)
def test_near_miss_is_not_found(scan, rules, snippet):
    report = scan(snippet)
    assert not set(rules) & rule_ids(report), [(f.rule_id, f.message) for f in report.findings]


def messages(report, rule):
    return [f.message for f in report.findings if f.rule_id == rule]


def test_a_name_reached_through_the_map_says_what_it_is(scan):
    report = scan("import logging\nlogging.os.system('id')\n")
    assert messages(report, "PE105") == [
        "logging.os.system (that is os.system) is denied by the policy (entry 'os')"
    ]
    imported = scan("from random import _urandom\n")
    assert "'random._urandom' (that is posix.urandom)" in messages(imported, "PE101")[0]
    unlisted = scan("from qiskit.qasm2 import Path\n")
    assert "(that is pathlib.Path)" in messages(unlisted, "PE102")[0]


def test_pattern_and_field_findings_point_at_them(scan):
    report = scan("x = 1\nmatch f:\n    case object(__globals__=g):\n        pass\n")
    finding = next(f for f in report.findings if f.rule_id == "PE301")
    assert (finding.line, finding.column) == (3, 10)
    assert finding.message == (
        "class pattern attribute __globals__ leads to the interpreter's internals"
    )
    field = next(f for f in scan("y = '{0.f_back}'\n").findings if f.rule_id == "PE303")
    assert field.line == 1 and "format field attribute f_back" in field.message


def test_star_imports_follow_the_policy(scan, policy):
    assert "PE106" in rule_ids(scan("from itertools import *"))
    more = with_changes(policy, imports={"star_allow": [*policy.imports.star_allow, "itertools"]})
    assert "PE106" not in rule_ids(scan("from itertools import *", more))
    assert "PE106" in rule_ids(scan("from itertools.x import *", more))  # exact names only


def test_a_local_star_import_is_a_finding(policy):
    from engine.scan import scan_files

    report = scan_files(
        {"main.py": "from helpers import *\n", "helpers.py": "from operator import attrgetter\n"},
        policy,
    )
    assert "PE106" in {f.rule_id for f in report.findings if f.file == "main.py"}


def test_a_format_string_from_another_file_of_the_upload_is_computed(policy):
    from engine.scan import scan_files

    report = scan_files(
        {
            "main.py": "from helpers import TEMPLATE\nrender = TEMPLATE.format\nrender(main)\n",
            "helpers.py": "TEMPLATE = '{0.__glo' + 'bals__}'\n",
        },
        policy,
    )
    assert "PE405" in {f.rule_id for f in report.findings if f.file == "main.py"}


def test_literal_keyword_dicts_are_judged_like_keywords(scan):
    report = scan("open('/etc/x', **{'mode': 'w'})\nopen('/etc/y', **{'mode': 'r'})\n")
    assert [f.line for f in report.findings if f.rule_id == "PE501"] == [1]
    assert "PE406" not in rule_ids(report)


def test_format_folding_is_bounded(scan):
    # 2**10 alternatives: more than the scanner follows, so the string counts as computed.
    joined = " + ".join(f"('a' if c{i} else 'b')" for i in range(10))
    report = scan(f"({joined}).format(x)\n")
    assert "PE405" in rule_ids(report)
    huge = scan("('{0}' * 10**9).format(x)\n")
    assert "PE405" in rule_ids(huge)
