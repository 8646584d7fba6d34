"""No server path in a problem document or a job's error (pure rewriting, no daemon)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy

import engine
from engine import errors
from engine.server.problems import problem_for
from engine.server.redact import redact_paths, redact_value
from engine.server.schemas import job_json

SANDBOX_TRACEBACK = """\
Traceback (most recent call last):
  File "/opt/engine/engine/sandbox/runner.py", line 284, in run
    value = program.main(backend, SandboxMessenger(channel, limits), **inputs)
  File "/program/bad.py", line 3, in main
    json.loads('{')
  File "/usr/lib/python3.11/json/decoder.py", line 337, in decode
  File "/usr/local/lib/python3.11/site-packages/qiskit/circuit/quantumcircuit.py", line 9
  File "/tmp/scratch/helper.py", line 1, in <module>
json.decoder.JSONDecodeError: Expecting property name: line 1 column 2 (char 1)
"""


def _host_roots() -> list[str]:
    from engine.settings import get_settings

    return [str(Path(engine.__file__).resolve().parent.parent), sys.prefix,
            tempfile.gettempdir(), str(get_settings().home), str(Path.home())]


def test_a_sandbox_traceback_keeps_the_program_and_loses_the_layout() -> None:
    text = redact_paths(SANDBOX_TRACEBACK)
    for layout in ("/opt/engine", "/usr/lib", "/usr/local", "/program/", "/tmp/"):
        assert layout not in text, layout
    assert 'File "bad.py", line 3, in main' in text
    assert 'File "<engine>/sandbox/runner.py", line 284' in text
    assert 'File "<python>/json/decoder.py", line 337' in text
    assert 'File "<site-packages>/qiskit/circuit/quantumcircuit.py", line 9' in text
    assert 'File "<tmp>/scratch/helper.py"' in text
    assert text.endswith("line 1 column 2 (char 1)\n")  # the message itself is untouched


def test_host_paths_become_labels() -> None:
    from engine.settings import get_settings

    upload = Path(tempfile.gettempdir()) / "program-engine-upload-k2j4_x"
    cases = {
        f"{upload}/nomain.py: no function main": "nomain.py: no function main",
        f"{upload}/unpacked/packed/packed.json: not valid JSON":
            "packed/packed.json: not valid JSON",
        f"cannot read {get_settings().home}/engine.db": "cannot read <home>/engine.db",
        f'File "{Path(engine.__file__).resolve().parent}/server/app.py", line 3':
            'File "<engine>/server/app.py", line 3',
    }
    for raw, shown in cases.items():
        assert redact_paths(raw) == shown
    numpy_file = redact_paths(f'File "{numpy.__file__}"')
    assert numpy_file == 'File "<site-packages>/numpy/__init__.py"'
    mixed = " ".join(cases) + f" {numpy.__file__} {sys.executable}"
    cleaned = redact_paths(mixed)
    for root in _host_roots():
        assert root not in cleaned, root


def test_what_is_not_a_server_path_stays() -> None:
    for text in ("no such resource: /v1/no-such-route",
                 "see http://127.0.0.1:8787/v1/jobs/abc", "3/4 done, ratio a/b",
                 "Docker cannot be reached at unix:///var/run/docker.sock"):
        assert redact_paths(text) == text


def test_problem_documents_name_no_server_path() -> None:
    upload = Path(tempfile.gettempdir()) / "program-engine-upload-abcd1234"
    exc = errors.ProgramError("syntax error", f"{upload}/syn.py", 1)
    document = json.loads(problem_for(exc).body())
    assert document["detail"] == "syn.py:1: syntax error" and document["file"] == "syn.py"
    nested = errors.MetadataError(f"{upload}/unpacked/p/p.json: bad",
                                  [("name", f"see {upload}/unpacked/p/p.json")])
    document = json.loads(problem_for(nested).body())
    assert str(upload) not in json.dumps(document)
    assert document["fields"] == [{"loc": "name", "msg": "see p/p.json"}]
    assert redact_value({"a": [1, None, {"b": f"{upload}/x.py"}]}) == {"a": [1, None,
                                                                            {"b": "x.py"}]}


def test_a_job_error_names_no_server_path() -> None:
    from datetime import UTC, datetime

    from engine.records import JobRecord, JobStatus

    fields = {name: None for name in JobRecord.__dataclass_fields__}
    fields.update(id="j", program_id="p", program_version=1, owner="alice",
                  status=JobStatus.ERROR, reason="program_exception", backend="aer",
                  inputs="{}", options={}, created_at=datetime.now(UTC), metrics={},
                  cancel_requested=False, message_count=0, error_type="JSONDecodeError",
                  error_message=f"bad input in {tempfile.gettempdir()}/in.json",
                  error_traceback=SANDBOX_TRACEBACK)
    error = job_json(JobRecord(**fields))["error"]
    assert error["message"] == "bad input in <tmp>/in.json"
    assert "/opt/engine" not in error["traceback"] and 'File "bad.py"' in error["traceback"]
