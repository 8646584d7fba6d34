"""RuntimeService end to end: real SQLite, real Docker, real sandboxes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import docker as docker_sdk
import pytest

from engine import (
    JobNotFound,
    PermissionDenied,
    ProgramNotFound,
    ProgramRejected,
    QiskitRuntimeService,
    RuntimeJobCancelled,
    RuntimeJobFailure,
    RuntimeJobTimeout,
    RuntimeService,
)
from engine.errors import BackendError, InputValidationError, MetadataError
from engine.metadata import load_metadata, validate_value
from engine.sandbox.container import LABEL_JOB
from tests.programs import SLEEPER, SLEEPER_METADATA, TALKER, TALKER_METADATA

REPO = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p.name for p in (REPO / "program_source").iterdir() if p.is_dir())

pytestmark = pytest.mark.docker



@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def service(home):
    with RuntimeService(home=home, user="alice") as service:
        yield service


def _containers_of(job_id: str) -> list:
    client = docker_sdk.from_env()
    return client.containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"})


def _sample_inputs(name: str) -> dict:
    path = REPO / "program_source" / name / "inputs.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_program_lifecycle(service, name):
    program_id = service.upload_program(str(REPO / "program_source" / name))
    program = service.program(program_id)
    metadata = load_metadata(REPO / "program_source" / name / f"{name}.json")
    assert program_id.startswith(metadata.name + "-")
    assert program.name == metadata.name and program.version == 1 and not program.is_public

    streamed = []
    job = service.run(program_id, _sample_inputs(name),
                      callback=lambda job_id, message: streamed.append((job_id, message)))
    result = job.result(timeout=300)
    assert job.status() == "DONE", job.error_message()
    if metadata.spec.return_values:
        validate_value(metadata.spec.return_values, json.loads(
            json.dumps(result, default=str)), "result")
    interim = job.interim_results()
    if metadata.spec.interim_results:
        for message in interim:
            validate_value(metadata.spec.interim_results, message, "interim result")
    job.cancel_result_streaming()
    deadline = time.monotonic() + 10
    while len(streamed) < len(interim) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [m for _, m in streamed] == interim
    assert all(job_id == job.job_id() for job_id, _ in streamed)
    metrics = job.metrics()
    assert metrics["wall_seconds"] > 0 and metrics["node"]
    # The job's container may wait for the user's next job of this program (reuse); none of
    # it outlives the service.
    service.close()
    assert _containers_of(job.job_id()) == []


def test_hello_world_with_a_result_decoder_and_replay(service):
    from engine import ResultDecoder

    class Shouting(ResultDecoder):
        @classmethod
        def decode(cls, data):
            return super().decode(data).upper()

    program_id = service.upload_program(str(REPO / "program_source" / "hello_world"))
    job = service.run(program_id, {"iterations": 2}, options={"backend": "ibmq_qasm_simulator"},
                      result_decoder=Shouting)
    assert job.result(timeout=120) == "HELLO, WORLD!"
    assert job.result(decoder=ResultDecoder) == "Hello, World!"
    assert job.backend() == "ibmq_qasm_simulator"
    replay = service.job(job.job_id()).interim_results()
    assert [m["iteration"] for m in replay] == [0, 1]


def test_update_keeps_the_id_and_every_version(service):
    program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
    first = service.run(program_id, {"seconds": 0})
    assert first.result(timeout=120) == "slept"
    service.update_program(program_id, description="A new description.")
    updated = service.program(program_id)
    assert updated.description == "A new description." and updated.version == 2
    new_source = SLEEPER.replace('return "slept"', 'return "slept v3"')
    service.update_program(program_id, data=new_source)
    assert service.program(program_id).version == 3
    second = service.run(program_id, {"seconds": 0})
    assert second.result(timeout=120) == "slept v3"
    with service._db.read() as tx:
        versions = tx.programs.versions(program_id)
        assert [v.version for v in versions] == [1, 2, 3]
        assert tx.jobs.get(first.job_id()).program_version == 1
        assert tx.jobs.get(second.job_id()).program_version == 3


def test_two_users_visibility_and_permissions(home):
    with RuntimeService(home=home, user="alice") as alice, \
            RuntimeService(home=home, user="bob") as bob, \
            RuntimeService(home=home, user="root", is_admin=True) as admin:
        private = alice.upload_program(SLEEPER, SLEEPER_METADATA)
        public = alice.upload_program(SLEEPER, {**SLEEPER_METADATA, "name": "shared"})
        alice.set_program_visibility(public, True)

        assert {p.program_id for p in alice.programs()} == {private, public}
        assert {p.program_id for p in bob.programs()} == {public}
        assert {p.program_id for p in admin.programs()} == {private, public}
        with pytest.raises(ProgramNotFound) as hidden:
            bob.program(private)
        with pytest.raises(ProgramNotFound) as missing:
            bob.program("no-such-program")
        assert type(hidden.value) is type(missing.value)
        with pytest.raises(ProgramNotFound):
            bob.run(private, {"seconds": 0})
        for change in (lambda: bob.delete_program(public),
                       lambda: bob.set_program_visibility(public, False),
                       lambda: bob.update_program(public, description="mine now")):
            with pytest.raises(PermissionDenied):
                change()

        job = bob.run(public, {"seconds": 0})
        assert job.result(timeout=120) == "slept"
        with pytest.raises(JobNotFound):
            alice.job(job.job_id())
        assert [j.job_id() for j in admin.jobs()] == [job.job_id()]
        assert admin.job(job.job_id()).status() == "DONE"
        with pytest.raises(JobNotFound):
            alice.delete_job(job.job_id())
        alice.delete_program(public)
        assert bob.job(job.job_id()).result() == "slept"  # jobs outlive their program
        with pytest.raises(ProgramNotFound):
            bob.program(public)


def test_refusals_store_nothing(service):
    with pytest.raises(MetadataError):
        service.upload_program(SLEEPER, {"name": "x"})
    with pytest.raises(ProgramRejected) as rejected:
        service.upload_program(
            "import os\ndef main(backend, user_messenger):\n    os.system('id')\n",
            {**SLEEPER_METADATA, "name": "hostile"},
        )
    assert not rejected.value.report.accepted and rejected.value.report.findings
    assert service.programs() == []

    program_id = service.upload_program(str(REPO / "program_source" / "hello_world"))
    with pytest.raises(InputValidationError) as invalid:
        service.run(program_id, {"iterations": -1})
    assert "iterations" in str(invalid.value)
    with pytest.raises(BackendError, match="at least 5 qubits"):
        service.run(program_id, {"iterations": 1}, options={"backend": "fake_3q"})
    with pytest.raises(BackendError, match="unknown backend"):
        service.run(program_id, {"iterations": 1}, options={"backend": "nope"})
    with pytest.raises(InputValidationError, match=r"options\.colour"):
        service.run(program_id, {"iterations": 1}, options={"colour": "red"})
    assert service.jobs() == []


def test_cancel_a_running_job_removes_its_container(service):
    program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
    job = service.run(program_id, {"seconds": 120})
    deadline = time.monotonic() + 60
    while not job.interim_results() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.status() == "RUNNING" and _containers_of(job.job_id())
    job.cancel()
    assert job.wait_for_final_state(timeout=60) == "CANCELLED"
    assert job.reason == "user"
    with pytest.raises(RuntimeJobCancelled):
        job.result()
    assert _containers_of(job.job_id()) == []


def test_max_execution_time_from_metadata(service):
    program_id = service.upload_program(SLEEPER, {**SLEEPER_METADATA, "max_execution_time": 3})
    job = service.run(program_id, {"seconds": 60})
    with pytest.raises(RuntimeJobTimeout):
        job.result(timeout=0.5)
    assert job.wait_for_final_state(timeout=60) == "CANCELLED"
    assert job.reason == "ran_too_long"
    assert job.metrics()["wall_seconds"] < 20


def test_a_program_error_is_a_job_failure(service):
    source = "def main(backend, user_messenger, **kwargs):\n    raise ValueError('boom 42')\n"
    program_id = service.upload_program(source, {**SLEEPER_METADATA, "name": "failing"})
    job = service.run(program_id)
    with pytest.raises(RuntimeJobFailure) as failure:
        job.result(timeout=120)
    assert failure.value.reason == "program_exception"
    assert "boom 42" in job.error_message()


def test_ten_jobs_with_at_most_two_running(home):
    with RuntimeService(home=home, user="alice", max_concurrent_jobs=2) as service:
        program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
        jobs = [service.run(program_id, {"seconds": 0.5}) for _ in range(10)]
        assert [job.result(timeout=300) for job in jobs] == ["slept"] * 10
        with service._db.read() as tx:
            records = [tx.jobs.get(job.job_id()) for job in jobs]
    events = sorted([(r.started_at, 1) for r in records] + [(r.ended_at, -1) for r in records])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak <= 2
    assert sorted(r.started_at for r in records) == [r.started_at for r in
                                                      sorted(records, key=lambda r: r.created_at)]


HOST_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from engine import RuntimeService
    service = RuntimeService(home=sys.argv[1], user="alice", max_concurrent_jobs=1)
    program_id = service.upload_program(sys.argv[2], {
        "name": "sleeper", "description": "Sleeps.", "max_execution_time": 120})
    running = service.run(program_id, {"seconds": 300})
    queued = service.run(program_id, {"seconds": 0})
    while not running.interim_results():
        time.sleep(0.1)
    print(running.job_id(), queued.job_id(), flush=True)
    time.sleep(600)
    """
)


def test_kill_9_of_the_hosting_process_then_reopen(home, tmp_path):
    source = tmp_path / "sleeper.py"
    source.write_text(SLEEPER)
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, str(home), str(source)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = host.stdout.readline()
        assert line, "the hosting process died before it started its jobs"
        running_id, queued_id = line.split()
        assert _containers_of(running_id)
    finally:
        os.kill(host.pid, signal.SIGKILL)
        host.wait()
    with RuntimeService(home=home, user="alice") as service:
        crashed = service.job(running_id)
        assert crashed.status() == "ERROR" and crashed.reason == "engine_restarted"
        assert _containers_of(running_id) == []
        assert service.job(queued_id).result(timeout=120) == "slept"
    assert _containers_of(running_id) == _containers_of(queued_id) == []


def test_the_familiar_name_and_printing(service):
    assert QiskitRuntimeService is RuntimeService
    program_id = service.upload_program(str(REPO / "program_source" / "hello_world"))
    text = str(service.program(program_id))
    assert text.startswith(f"{program_id}:")
    for expected in ("Name: hello-world", "Max execution time: 300", "Input parameters:",
                     "- iterations:", "Required: True", "Owner: alice"):
        assert expected in text
    assert "<table>" in service.program(program_id)._repr_html_()
    job = service.run(program_id, {"iterations": 1})
    job.wait_for_final_state(timeout=120)
    assert job.job_id() in job._repr_html_()


def test_views_for_other_users_share_the_store(service):
    program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
    bob = service.as_user("bob")
    with pytest.raises(ProgramNotFound):
        bob.program(program_id)
    root = service.as_user("root", is_admin=True)
    assert root.program(program_id).owner == "alice"
    bob.close()  # a view's close leaves the store open
    assert service.program(program_id).program_id == program_id


def test_a_service_without_executor_reaps_the_sandboxes_of_the_jobs_it_recovers(
    home, docker, runtime_image
):
    """Reading services skip the Docker reap, except when they end a dead process's jobs."""
    import socket

    from engine.sandbox.container import LABEL_ENGINE, LABEL_OWNER
    from engine.store import open_database

    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = f"{socket.gethostname()}:{pid_max + 1}:0"  # no process can have this PID
    with open_database(home=home) as db, db.write() as tx:
        job = tx.jobs.create(program_id="gone-abc", program_version=1, owner="alice",
                             backend="aer_simulator", inputs="{}")
        assert tx.jobs.claim_next(dead).id == job.id
    container = docker.containers.create(
        runtime_image, ["true"], network_mode="none",
        labels={LABEL_ENGINE: "1", LABEL_JOB: job.id, LABEL_OWNER: dead},
    )
    try:
        with RuntimeService(home=home, user="alice", executor=None) as service:
            assert service.job(job.id).status() == "ERROR"
        with pytest.raises(docker_sdk.errors.NotFound):
            docker.containers.get(container.id)
    finally:
        with contextlib.suppress(docker_sdk.errors.NotFound):
            docker.api.remove_container(container.id, force=True)


# --- the original client's API ---------------------------------------------------------------


def test_parameters_namespace_runs_a_job_and_checks_required_values(service):
    from engine.runtime_program import ParameterNamespace

    program_id = service.upload_program(str(REPO / "program_source" / "hello_world"))
    params = service.program(program_id).parameters()
    assert isinstance(params, ParameterNamespace)
    assert params.iterations is None and "iterations" in params.metadata["properties"]
    assert params.to_dict() == {}
    params.iterations = 1
    job = service.run(program_id, params)
    assert job.result(timeout=120) == "Hello, World!"
    assert job.inputs == {"iterations": 1}
    assert job.done() and job.in_final_state() and not job.running() and not job.cancelled()


def test_a_required_parameter_left_unset_in_the_namespace_is_refused(service):
    program_id = service.upload_program(SLEEPER, {
        **SLEEPER_METADATA,
        "spec": {"parameters": {**SLEEPER_METADATA["spec"]["parameters"],
                                "required": ["seconds"]}},
    })
    with pytest.raises(InputValidationError, match="seconds: required parameter has no value"):
        service.run(program_id, service.program(program_id).parameters())
    assert service.jobs() == []


def test_cancelling_a_job_that_ended_is_an_invalid_state(service):
    from engine.errors import RuntimeInvalidStateError

    program_id = service.upload_program(str(REPO / "program_source" / "hello_world"))
    job = service.run(program_id, {"iterations": 1})
    job.wait_for_final_state(timeout=120)
    with pytest.raises(RuntimeInvalidStateError, match="has already ended"):
        job.cancel()
    assert job.status() == "DONE"


def test_a_second_program_of_the_same_name_needs_new(service):
    from engine.errors import RuntimeDuplicateProgramError

    first = service.upload_program(SLEEPER, SLEEPER_METADATA)
    with pytest.raises(RuntimeDuplicateProgramError, match=first):
        service.upload_program(SLEEPER, SLEEPER_METADATA)
    assert [p.program_id for p in service.programs()] == [first]
    second = service.upload_program(SLEEPER, SLEEPER_METADATA, new=True)
    assert second != first and len(service.programs()) == 2
    # Another user's program of that name does not count.
    bob = service.as_user("bob")
    assert bob.upload_program(SLEEPER, SLEEPER_METADATA) not in (first, second)


def test_pprint_programs_prints_id_name_and_description(service, capsys):
    program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
    service.pprint_programs()
    out = capsys.readouterr().out
    assert f"{program_id}:\n  Name: sleeper\n  Description: Sleeps." in out
    service.pprint_programs(detailed=True)
    assert "seconds" in capsys.readouterr().out


# --- logs as they are printed ------------------------------------------------------------------


def test_a_running_jobs_logs_grow_as_it_prints(service):
    program_id = service.upload_program(TALKER, TALKER_METADATA)
    job = service.run(program_id, {"seconds": 4})
    deadline = time.monotonic() + 120
    while "first line" not in job.logs():
        assert time.monotonic() < deadline, job.status()
        time.sleep(0.1)
    assert job.status() == "RUNNING" and "last line" not in job.logs()
    assert job.result(timeout=120) == "talked"
    assert job.logs() == "first line\nlast line\n"


def test_inputs_that_are_not_a_mapping_are_refused_by_name(service):
    program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
    with pytest.raises(InputValidationError, match="inputs: must be a mapping"):
        service.run(program_id, [1, 2])
    assert service.jobs() == []


def test_a_mistyped_path_is_not_taken_for_source_text(service, tmp_path):
    from engine.errors import ProgramError

    for typo in (str(tmp_path / "no_such_program.py"), "program_source/hello_wrld"):
        with pytest.raises(ProgramError, match="no such file or folder"):
            service.upload_program(typo)
    assert service.programs() == []


def test_a_long_running_process_forgets_the_jobs_it_submitted_once_they_end(home):
    """``unfinished()`` is asked at exit; in between, ended jobs are dropped as the set grows,
    so a daemon keeps no entry per job it ever ran."""
    with RuntimeService(home=home, user="alice", executor=None) as service:
        program_id = service.upload_program(TALKER, TALKER_METADATA)
        core = service._core
        queued = service.run(program_id, {}).job_id()  # queued for an executor elsewhere
        core.note_submitted(queued)
        for index in range(600):
            core.note_submitted(f"ended-{index}")  # not in the store: ended, as far as it knows
        assert len(core.submitted) <= 256
        assert queued in core.submitted and core.unfinished() == [queued]
