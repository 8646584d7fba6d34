"""The sandbox's images: offline base and runtime image, per-program images, listing, pruning.

The unit tests need no Docker. The ``docker`` tests build (once per session, through the
``runtime_image`` fixture) the real runtime image; every container they start has no network.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import re
import subprocess
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import docker.errors as docker_errors
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.cli.images_command import parse_duration
from engine.errors import ImageBuildError, ProgramError, SandboxUnavailable
from engine.sandbox import base_image, image_build, images, wheelhouse
from engine.settings import get_settings

# --- what the image must hold --------------------------------------------------------------

COMPAT_IMPORTS: dict[str, list[str]] = {
    "qiskit_ibm_runtime": ["RuntimeEncoder", "RuntimeDecoder", "UserMessenger"],
    "qiskit_ibm_runtime.program": ["UserMessenger", "ProgramBackend", "ResultDecoder"],
    "qiskit.providers.ibmq.runtime": [
        "UserMessenger",
        "ProgramBackend",
        "ResultDecoder",
        "RuntimeEncoder",
        "RuntimeDecoder",
    ],
}
SANDBOX_MODULES: dict[str, list[str]] = {"engine.sandbox.runner": []}

# Runs inside the program image as the sandbox user and reports what it sees as JSON.
PROBE = r"""
import glob, importlib, importlib.metadata as md, importlib.util, json, os, pwd, re, stat, sys

CHECKS = json.loads(sys.argv[1])
out = {"uid": os.getuid(), "gid": os.getgid(), "user": pwd.getpwuid(os.getuid()).pw_name}
out["python"] = list(sys.version_info[:2])
out["versions"] = {
    re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in md.distributions()
}
out["pip_importable"] = importlib.util.find_spec("pip") is not None
patterns = [
    "/var/lib/apt/lists/*", "/var/cache/apt/archives/*.deb", "/var/cache/apt/*.bin",
    "/tmp/.cache", "/wheels", "/compat", "/opt/venv/lib/*/site-packages/scipy/*/tests",
]
out["leftovers"] = sorted(
    path for pattern in patterns for path in glob.glob(pattern)
    if not path.endswith(("/partial", "/lock"))
)
program = []
for root, dirs, files in os.walk("/program"):
    for name in dirs + files:
        path = os.path.join(root, name)
        st = os.lstat(path)
        program.append([os.path.relpath(path, "/program"), stat.S_ISDIR(st.st_mode),
                        st.st_uid, st.st_mode & 0o777])
out["program"] = sorted(program)
st = os.stat("/program")
out["program_dir"] = [st.st_uid, st.st_mode & 0o777]
try:
    open("/program/probe.py", "a").close()
    out["program_writable"] = True
except PermissionError:
    out["program_writable"] = False
engine_files = []
for root, dirs, files in os.walk("/opt/engine"):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    engine_files += [os.path.relpath(os.path.join(root, f), "/opt/engine") for f in files]
out["engine_files"] = sorted(engine_files)
out["engine_precompiled"] = bool(glob.glob("/opt/engine/engine/__pycache__/*.cpython-311.pyc"))
import engine.policy_files
out["policy_dir"] = str(engine.policy_files.policy_dir())
from lib import helper
out["helper"] = helper.VALUE
imports = {}
for module, names in CHECKS.items():
    try:
        mod = importlib.import_module(module)
        missing = [name for name in names if not hasattr(mod, name)]
        imports[module] = "ok" if not missing else "missing " + ",".join(missing)
    except Exception as exc:
        imports[module] = f"{type(exc).__name__}: {exc}"
out["imports"] = imports
print(json.dumps(out))
"""
PROBE_FILES = {
    "probe.py": PROBE.encode(),
    "probe.json": b'{"name": "probe", "max_execution_time": 60}\n',
    "lib/helper.py": b"VALUE = 42\n",
}


def _serialization_ready() -> bool:
    """Whether ``engine.serialization`` provides the encoder and decoder yet."""
    try:
        from engine.serialization import RuntimeDecoder, RuntimeEncoder  # noqa: F401
    except ImportError:
        return False
    return True


def _run(client: Any, image: str, command: list[str]) -> str:
    """Run a command in a fresh container without network; returns its stdout."""
    output = client.containers.run(
        image, entrypoint=command, network_mode="none", remove=True, stdout=True, stderr=False
    )
    return output.decode()


# --- unit tests: no Docker -----------------------------------------------------------------


def test_pins_are_the_host_versions_with_their_dependencies() -> None:
    pins = wheelhouse.pinned_requirements()
    for name in (*wheelhouse.RUNTIME_PACKAGES, "pydantic-core", "rustworkx"):
        assert pins[name] == metadata.version(name), name
    assert "pytest" not in pins and "docker" not in pins  # host tooling stays out


def test_pins_name_a_missing_package() -> None:
    with pytest.raises(ImageBuildError, match="no-such-package-for-images"):
        wheelhouse.pinned_requirements(["no-such-package-for-images"])


def test_platform_tags_cover_old_and_new_manylinux() -> None:
    tags = wheelhouse.platform_tags("x86_64")
    for tag in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"):
        assert tag in tags
    assert f"manylinux_2_{wheelhouse.MAX_GLIBC_MINOR + 1}_x86_64" not in tags


def test_find_wheels_takes_only_matching_versions_and_platforms(tmp_path: Path) -> None:
    arch = wheelhouse.image_arch()
    names = [
        f"numpy-2.0.0-cp311-cp311-manylinux_2_17_{arch}.manylinux2014_{arch}.whl",
        f"scipy-1.0.0-cp312-cp312-manylinux_2_17_{arch}.whl",  # wrong Python
        "scipy-1.0.0-cp311-cp311-win_amd64.whl",  # wrong platform
        "pyyaml-6.0.0-cp311-cp311-manylinux_2_17_x86_64.whl" if arch != "x86_64" else "",
        "dill-0.3.0-py3-none-any.whl",  # wrong version
        "dill-0.4.0-py3-none-any.whl",
        "not-a-wheel.whl",
    ]
    for name in filter(None, names):
        (tmp_path / name).write_bytes(b"")
    found, missing = wheelhouse.find_wheels(
        tmp_path, {"numpy": "2.0.0", "scipy": "1.0.0", "dill": "0.4.0"}
    )
    assert sorted(found) == ["dill", "numpy"]
    assert found["dill"].name == "dill-0.4.0-py3-none-any.whl"
    assert missing == ["scipy"]


def test_host_mirror_from_deb822_and_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian/\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert base_image.host_debian_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb http://security.example/x bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
    )
    assert base_image.host_debian_mirror(tmp_path) == "http://one.example/debian"
    assert base_image.host_debian_mirror(tmp_path / "nowhere") == base_image.DEFAULT_MIRROR


def test_only_sandbox_side_sources_go_into_the_image() -> None:
    sources = images.sandbox_source_files()
    assert "engine/errors.py" in sources and "engine/program/__init__.py" in sources
    allowed = tuple(images.SANDBOX_SOURCES)
    for path in sources:
        assert path in allowed or path.startswith(tuple(f"{entry}/" for entry in allowed)), path
        assert "__pycache__" not in path
    for host_side in ("engine/settings.py", "engine/sandbox/images.py", "engine/cli/__init__.py"):
        assert host_side not in sources


def test_runtime_hash_changes_with_every_input() -> None:
    args: dict[str, Any] = {
        "base_id": "sha256:base",
        "pins": {"qiskit": "2.0.0"},
        "sources": {"engine/errors.py": b"x"},
        "compat": {"qiskit_ibm_runtime/__init__.py": b"y"},
        "dockerfile": b"FROM x",
    }
    reference = images.runtime_content_hash(**args)
    assert images.runtime_content_hash(**args) == reference
    changes = {
        "base_id": "sha256:other",
        "pins": {"qiskit": "2.0.1"},
        "sources": {"engine/errors.py": b"x2"},
        "compat": {"qiskit_ibm_runtime/__init__.py": b"y", "extra.py": b""},
        "dockerfile": b"FROM y",
    }
    for key, value in changes.items():
        assert images.runtime_content_hash(**{**args, key: value}) != reference, key


def test_program_hash_is_content_addressed() -> None:
    files = {"a.py": b"print(1)\n", "a.json": b"{}"}
    reference = images.program_content_hash(files, "sha256:r1")
    assert images.program_content_hash(dict(reversed(list(files.items()))), "sha256:r1") == (
        reference
    )
    assert images.program_content_hash({**files, "a.py": b"print(2)\n"}, "sha256:r1") != reference
    assert images.program_content_hash({"b.py": b"print(1)\n", "a.json": b"{}"}, "sha256:r1") != (
        reference
    )
    assert images.program_content_hash(files, "sha256:r2") != reference


@pytest.mark.parametrize(
    "name",
    ["../evil.py", "/etc/passwd", ".hidden.py", "a//b.py", "", "a/../b.py", "sp ace.py", "a\\b"],
)
def test_program_file_names_cannot_escape(name: str) -> None:
    with pytest.raises(ProgramError, match="invalid file name"):
        images.validate_program_files({name: b"x"})


def test_program_files_must_be_bytes_and_not_clash() -> None:
    with pytest.raises(ProgramError, match="bytes"):
        images.validate_program_files({"a.py": "text"})  # type: ignore[dict-item]
    with pytest.raises(ProgramError, match="folder"):
        images.validate_program_files({"lib": b"", "lib/x.py": b""})
    with pytest.raises(ProgramError, match="at least one"):
        images.validate_program_files({})
    checked = images.validate_program_files({"z.py": bytearray(b"1"), "lib/x.py": b"2"})
    assert checked == {"lib/x.py": b"2", "z.py": b"1"}


def test_unreachable_docker_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_DOCKER_BASE_URL", "unix:///nonexistent/program-engine.sock")
    get_settings.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="scripts/setup"):
            images.list_images()
        with pytest.raises(SandboxUnavailable, match="scripts/setup"):
            images.ensure_program_image({"a.py": b"x"})
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_durations_for_prune() -> None:
    assert parse_duration("90") == timedelta(seconds=90)
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("2w") == timedelta(weeks=2)


def test_bootstrap_script_checks_its_arguments() -> None:
    script = base_image.sandbox_images_dir() / base_image.BOOTSTRAP_SCRIPT
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "usage" in done.stderr


# --- docker tests --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_image(docker: Any, runtime_image: str) -> str:
    return images.ensure_program_image(PROBE_FILES, docker, runtime_image=runtime_image)


@pytest.fixture(scope="module")
def probe(docker: Any, probe_image: str) -> dict[str, Any]:
    checks = json.dumps({**COMPAT_IMPORTS, **SANDBOX_MODULES})
    return json.loads(_run(docker, probe_image, ["python", "/program/probe.py", checks]))


@pytest.mark.docker
def test_runtime_image_built_locally_from_an_offline_base(docker: Any, runtime_image: str) -> None:
    image = docker.images.get(runtime_image)
    labels = image.labels
    assert labels[images.LABEL_KIND] == "runtime"
    current = images.current_runtime_image(docker)
    assert current is not None and current.tag == runtime_image
    assert labels[images.LABEL_CONTENT_HASH] == current.content_hash
    assert image.attrs["RepoDigests"] == []  # built here, never pulled
    base = docker.images.get(labels[images.LABEL_BASE_IMAGE])
    if current.base.origin == "debootstrap":
        assert base.labels[images.LABEL_KIND] == "base"
        assert base.labels[images.LABEL_RECIPE_HASH] == base_image.recipe_hash()
    else:
        assert current.base.ref == get_settings().base_image


@pytest.mark.docker
def test_runtime_image_config(docker: Any, runtime_image: str) -> None:
    config = docker.images.get(runtime_image).attrs["Config"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert config["User"] == images.SANDBOX_USER
    assert config["WorkingDir"] == "/tmp"
    assert config["Entrypoint"] == ["python", "-P", "-m", "engine.sandbox.runner"]
    assert env["PYTHONPATH"] == "/opt/engine"  # the runner appends /program itself
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["PATH"].startswith("/opt/venv/bin:")


@pytest.mark.docker
def test_exact_package_versions(probe: dict[str, Any]) -> None:
    assert probe["python"] == list(wheelhouse.PYTHON_VERSION)
    pins = wheelhouse.pinned_requirements()
    assert {name: probe["versions"].get(name) for name in pins} == pins


@pytest.mark.docker
def test_runs_as_the_sandbox_user(probe: dict[str, Any]) -> None:
    assert probe["uid"] == images.SANDBOX_UID and probe["gid"] == images.SANDBOX_UID
    assert probe["user"] == images.SANDBOX_USER


@pytest.mark.docker
def test_no_caches_lists_or_build_leftovers(probe: dict[str, Any]) -> None:
    assert probe["leftovers"] == []
    assert probe["pip_importable"] is False


@pytest.mark.docker
def test_engine_code_is_only_the_sandbox_side(probe: dict[str, Any]) -> None:
    assert probe["engine_files"] == sorted(images.sandbox_source_files())
    assert probe["engine_precompiled"] is True
    assert probe["policy_dir"] == "/opt/engine/engine/policies"  # packaged with the engine


def _host_import(module: str) -> str:
    try:
        importlib.import_module(module)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok"


@pytest.mark.docker
def test_compat_modules_import(probe: dict[str, Any]) -> None:
    results = probe["imports"]
    if _serialization_ready():
        assert {module: results[module] for module in COMPAT_IMPORTS} == dict.fromkeys(
            COMPAT_IMPORTS, "ok"
        )
    else:  # engine.serialization not written yet: the re-exports fail only on it
        for module in COMPAT_IMPORTS:
            assert re.search(
                r"RuntimeEncoder|RuntimeDecoder|engine\.serialization", results[module]
            )


@pytest.mark.docker
def test_sandbox_modules_import_in_the_image_as_on_the_host(probe: dict[str, Any]) -> None:
    # The image holds only SANDBOX_SOURCES and the runtime packages: a sandbox-side module
    # that imports on the host but not in the image reaches for something host-side.
    for module in SANDBOX_MODULES:
        host, image = _host_import(module), probe["imports"][module]
        assert image.split(":")[0] == host.split(":")[0], f"{module}: {image} (host: {host})"


@pytest.mark.docker
def test_program_image_holds_only_the_program_read_only(probe: dict[str, Any]) -> None:
    entries = {path: (is_dir, uid, mode) for path, is_dir, uid, mode in probe["program"]}
    assert set(entries) == {*PROBE_FILES, "lib"}
    assert probe["helper"] == 42  # /program is importable
    for path, (is_dir, uid, mode) in entries.items():
        assert uid == 0, path
        assert mode == (0o755 if is_dir else 0o644), path
    assert probe["program_dir"] == [0, 0o755]
    assert probe["program_writable"] is False


@pytest.mark.docker
def test_program_images_are_content_addressed(
    docker: Any, runtime_image: str, probe_image: str
) -> None:
    again = images.ensure_program_image(PROBE_FILES, docker, runtime_image=runtime_image)
    assert again == probe_image
    changed = {**PROBE_FILES, "lib/helper.py": b"VALUE = 43\n"}
    other = images.ensure_program_image(changed, docker, runtime_image=runtime_image)
    assert other != probe_image
    assert docker.images.get(other).id != docker.images.get(probe_image).id
    info = {i.tags[0]: i for i in images.list_images(docker, kinds=["program"]) if i.tags}
    assert info[other].labels[images.LABEL_RUNTIME_IMAGE] == docker.images.get(runtime_image).id


@pytest.mark.docker
def test_prune_removes_by_label_and_age(docker: Any, runtime_image: str) -> None:
    files = {"prune_me.py": f"# {os.urandom(16).hex()}\n".encode()}
    tag = images.ensure_program_image(files, docker, runtime_image=runtime_image)
    where = {images.LABEL_CONTENT_HASH: docker.images.get(tag).labels[images.LABEL_CONTENT_HASH]}

    young = images.prune_images(docker, older_than=timedelta(hours=1), where=where)
    assert young.removed == [] and docker.images.get(tag)

    done = images.prune_images(docker, older_than=None, where=where)
    assert [info.tags for info in done.removed] == [(tag,)]
    with pytest.raises(docker_errors.ImageNotFound):
        docker.images.get(tag)
    assert docker.images.get(runtime_image)  # other kinds untouched


@pytest.mark.docker
def test_prune_keeps_the_current_runtime_image(docker: Any, runtime_image: str) -> None:
    result = images.prune_images(docker, kinds=["runtime", "base"], dry_run=True)
    dropped = {tag for info in result.removed for tag in info.tags}
    assert runtime_image not in dropped
    assert any(runtime_image in info.tags for info, _why in result.skipped)


@pytest.mark.docker
def test_prune_keeps_images_that_others_are_built_on(
    docker: Any, runtime_image: str, probe_image: str
) -> None:
    alone = images.prune_images(docker, kinds=["runtime"], dry_run=True, keep_current=False)
    reasons = {tag: why for info, why in alone.skipped for tag in info.tags}
    assert "built on it" in reasons[runtime_image]
    # Pruning the program images too frees the runtime image, children first.
    together = images.prune_images(
        docker, kinds=["program", "runtime"], dry_run=True, keep_current=False
    )
    assert any(runtime_image in info.tags for info in together.removed)
    assert [info.kind for info in together.removed] == sorted(
        (info.kind for info in together.removed), key=images.IMAGE_KINDS.index
    )


@pytest.mark.docker
def test_failed_build_raises_with_the_log_tail(docker: Any, runtime_image: str) -> None:
    context = image_build.BuildContext(io.BytesIO())
    context.add_bytes("Dockerfile", b"ARG R\nFROM ${R}\nRUN echo marker-7f3a && exit 3\n")
    with pytest.raises(ImageBuildError) as caught:
        image_build.run_build(
            docker,
            context.finish(),
            tag="program-engine/test-failing-build:latest",
            labels={},
            buildargs={"R": runtime_image},
            timeout=120,
            on_step=lambda *_: None,
        )
    assert "marker-7f3a" in str(caught.value)
    assert "non-zero code" in str(caught.value)


@pytest.mark.docker
def test_images_cli_lists_as_json(docker: Any, runtime_image: str) -> None:
    result = CliRunner().invoke(app, ["images", "list", "--json", "--kind", "runtime"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["images"]
    assert any(runtime_image in entry["tags"] for entry in listed)
    assert {entry["kind"] for entry in listed} == {"runtime"}
