"""Unpacking uploaded folder archives: what is refused, and what a good archive gives."""

from __future__ import annotations

import gzip
import io
import os
import struct
from pathlib import Path

import pytest

from engine.errors import ProgramError
from engine.server.archives import ArchiveRejected, _Unpacker, archive_kind, unpack
from engine.server.policy import load_server_policy
from engine.server.uploads import client_filename, staged_program
from tests.server.conftest import METADATA, PROGRAM, good_program_files, tar_file, tar_gz, zip_bytes

LIMITS = load_server_policy().archive


def _written(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _unpack(name: str, data: bytes, target: Path) -> Path:
    target.mkdir()
    kind = archive_kind(name)
    assert kind is not None
    return unpack(io.BytesIO(data), kind, target, LIMITS, name)


@pytest.mark.parametrize("build", [
    lambda: ("p.tar.gz", tar_gz([tar_file(n, c) for n, c in good_program_files()])),
    lambda: ("p.zip", zip_bytes(good_program_files())),
])
def test_a_good_archive_gives_its_one_folder(tmp_path: Path, build) -> None:
    name, data = build()
    folder = _unpack(name, data, tmp_path / "out")
    assert folder == tmp_path / "out" / "packed"
    assert (folder / "packed.py").read_bytes() == PROGRAM
    assert (folder / "packed.json").read_bytes() == METADATA
    assert (folder / "helpers" / "util.py").read_bytes() == b"X = 1\n"
    assert oct((folder / "packed.py").stat().st_mode & 0o777) == oct(0o600)


def test_files_at_the_top_level_give_the_target_itself(tmp_path: Path) -> None:
    folder = _unpack("p.tgz", tar_gz([tar_file(n, c) for n, c in good_program_files("")]),
                     tmp_path / "out")
    assert folder == tmp_path / "out"
    assert sorted(p.name for p in folder.iterdir()) == ["helpers", "packed.json", "packed.py"]


def test_every_hostile_archive_is_refused_naming_its_rule(tmp_path: Path,
                                                          hostile_archives) -> None:
    for case, (name, data, rule) in hostile_archives.items():
        target = tmp_path / case
        with pytest.raises(ArchiveRejected) as refused:
            _unpack(name, data, target)
        assert refused.value.rule == rule, case
        assert f"(rule: {rule})" in str(refused.value), case
        assert isinstance(refused.value, ProgramError)
        # Nothing escaped the target folder.
        assert not (tmp_path / "evil.py").exists()
        written = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        assert written <= LIMITS.max_total_bytes, case


def test_a_bomb_that_declares_its_size_is_refused_before_a_byte_is_written(
    tmp_path: Path, hostile_archives
) -> None:
    name, data, _rule = hostile_archives["tar_bomb"]
    assert len(data) < 1_000_000
    with pytest.raises(ArchiveRejected, match="max_total_bytes") as refused:
        _unpack(name, data, tmp_path / "out")
    assert refused.value.member == "packed/zeros.bin"
    assert _written(tmp_path / "out") == len(PROGRAM)  # only the file before the bomb


def _understating_zip(declared: int, actual: int) -> bytes:
    """A zip of one member of ``actual`` zero bytes whose two headers claim ``declared``."""
    data = bytearray(zip_bytes([*good_program_files(), ("packed/zeros.bin", bytes(actual))]))
    member = b"packed/zeros.bin"
    local = data.find(b"PK\x03\x04")
    while data[local + 30:local + 30 + len(member)] != member:
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(member)] != member:
        central = data.find(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, local + 22, declared)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, declared)  # and central directory
    return bytes(data)


def test_a_zip_member_that_understates_its_size_stops_at_the_header(tmp_path: Path) -> None:
    declared, actual = 1000, 50_000_000
    with pytest.raises(ArchiveRejected) as refused:
        _unpack("lying.zip", _understating_zip(declared, actual), tmp_path / "out")
    assert refused.value.member == "packed/zeros.bin"
    # zipfile hands out no more than the header's size, then finds the CRC wrong.
    assert refused.value.rule == "not_an_archive" and "CRC" in str(refused.value)
    assert _written(tmp_path / "out") <= len(PROGRAM) + len(METADATA) + 6 + declared


def test_a_member_that_delivers_more_than_its_header_stops_at_the_limit(
    tmp_path: Path
) -> None:
    # The unpacker's byte counter is the last guard: a member whose data goes on past its
    # declared size (here a real gzip stream of 50 MB of zeros, declared as 1000 bytes)
    # is cut at max_total_bytes as it is decompressed and written.
    target = tmp_path / "out"
    target.mkdir()
    unpacker = _Unpacker(target, LIMITS, "lying.tar.gz")
    source = gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(bytes(50_000_000))))
    with pytest.raises(ArchiveRejected, match="max_total_bytes") as refused:
        unpacker._file(["packed", "zeros.bin"], "packed/zeros.bin", 1000, source)
    assert refused.value.rule == "too_large"
    written = _written(target)
    assert LIMITS.max_total_bytes - 64 * 1024 < written <= LIMITS.max_total_bytes
    assert LIMITS.max_total_bytes < unpacker.total <= LIMITS.max_total_bytes + 64 * 1024
    assert source.tell() == unpacker.total  # decompression stopped there too


def test_a_huge_pax_header_is_cut_at_the_stream_limit(tmp_path: Path) -> None:
    import tarfile

    info = tarfile.TarInfo("packed/packed.py")
    info.pax_headers = {"comment": "x" * (LIMITS.max_stream_bytes + 1000)}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        info.size = len(PROGRAM)
        tar.addfile(info, io.BytesIO(PROGRAM))
    with pytest.raises(ArchiveRejected) as refused:
        _unpack("p.tar.gz", buffer.getvalue(), tmp_path / "out")
    assert refused.value.rule == "too_large" and "max_stream_bytes" in str(refused.value)


def test_duplicate_members_cannot_overwrite(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_bytes([("packed/a.py", b"A = 1\n"), ("packed/a.py", b"A = 2\n")])
    with pytest.raises(ArchiveRejected) as refused:
        _unpack("p.zip", data, tmp_path / "out")
    assert refused.value.rule == "duplicate"
    assert (tmp_path / "out" / "packed" / "a.py").read_bytes() == b"A = 1\n"


def test_too_deep_and_bad_names(tmp_path: Path) -> None:
    deep = "/".join(["d"] * (LIMITS.max_depth + 1)) + "/x.py"
    cases = {"too_deep": deep, "bad_name": "packed/a\\b.py"}
    for rule, member in cases.items():
        with pytest.raises(ArchiveRejected) as refused:
            _unpack("p.zip", zip_bytes([(member, b"")]), tmp_path / rule)
        assert refused.value.rule == rule


def test_an_empty_archive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveRejected) as refused:
        _unpack("p.tar.gz", tar_gz([]), tmp_path / "out")
    assert refused.value.rule == "empty"


def test_archive_kinds_and_client_file_names() -> None:
    assert archive_kind("x.TAR.GZ") == "tar" and archive_kind("x.tgz") == "tar"
    assert archive_kind("x.zip") == "zip" and archive_kind("x.tar") is None
    assert client_filename("../../etc/evil.py") == "evil.py"
    assert client_filename("C:\\Users\\me\\prog.py") == "prog.py"


def test_a_staged_file_keeps_only_its_last_name_component(tmp_path: Path) -> None:
    with staged_program(io.BytesIO(PROGRAM), "../../x/hello.py", LIMITS) as path:
        assert path.name == "hello.py" and path.read_bytes() == PROGRAM
        staged = path.parent
        assert staged.name.startswith("program-engine-upload-")
    assert not staged.exists()
    for name in ("hello.txt", "1hello.py", "he llo.py", ""):
        with pytest.raises(ProgramError), staged_program(io.BytesIO(PROGRAM), name, LIMITS):
            pass


def test_the_staging_folder_goes_even_when_unpacking_fails(tmp_path: Path,
                                                           hostile_archives) -> None:
    import tempfile

    before = set(os.listdir(tempfile.gettempdir()))
    name, data, _rule = hostile_archives["symlink"]
    with pytest.raises(ArchiveRejected), staged_program(io.BytesIO(data), name, LIMITS):
        pass
    after = {n for n in os.listdir(tempfile.gettempdir())
             if n.startswith("program-engine-upload-")}
    assert after <= before
