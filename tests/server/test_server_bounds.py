"""The daemon bounds its clients: slow headers and bodies, header floods, too many connections,
huge declared bodies, stale event streams, and a flood of alike log lines.

One real ``program-engine serve`` on 127.0.0.1 with small limits (the ``bounded`` fixture)
takes every attack over raw sockets. Clients that must count as different addresses bind
their end to another loopback address (127.0.0.2 and up): all traffic stays on loopback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import yaml

from tests.programs import SLEEPER, SLEEPER_METADATA
from tests.server.conftest import REPO, Daemon, policy_dir

pytestmark = pytest.mark.docker

CONNECTIONS = {
    "header_timeout_seconds": 1.5,
    "body_timeout_seconds": 1.5,
    "body_min_bytes_per_second": 1000,
    "unread_body_linger_seconds": 0.5,
    "keep_alive_seconds": 10,
    "max_header_bytes": 8192,
    "max_header_count": 50,
    "max_per_client": 6,
    "max_total": 16,
    "fd_reserve_fraction": 0.25,
    "fd_reserve_min": 256,
    "refused_linger_seconds": 1,
}
STREAMS = {"stream_recheck_seconds": 0.5, "max_streams_per_user": 2, "max_streams_total": 3}
LOG_LIMIT = {"burst": 3, "interval_seconds": 3, "max_kinds": 64}


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory, runtime_image: str) -> Iterator[Daemon]:
    """A daemon with small connection, stream and log limits (see the constants above)."""
    shipped = yaml.safe_load((REPO / "policies" / "server.yaml").read_text())
    assert set(CONNECTIONS) == set(shipped["connections"])  # every key set on purpose
    root = tmp_path_factory.mktemp("bounded")
    policies = policy_dir(root / "policies", {"server": {
        "connections": CONNECTIONS, "log_rate_limit": LOG_LIMIT, **STREAMS}})
    daemon = Daemon(root / "home", policies).start()
    yield daemon
    daemon.stop()


def _connect(daemon: Daemon, source: str = "127.0.0.1", timeout: float = 10) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", daemon.port))
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (or resets) the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def _answer(sock: socket.socket) -> bytes:
    """One whole response (headers and a Content-Length body) read off ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    while len(body) < int(_header(data, b"content-length")):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _get(sock: socket.socket, path: str = "/healthz") -> bytes:
    """One keep-alive request on ``sock``; its whole answer."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return _answer(sock)


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer[9:12])


def _problem(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


class _Trickler(threading.Thread):
    """Sends ``data`` one byte per ``interval``; notes when and how the server ended it."""

    def __init__(self, sock: socket.socket, data: bytes, interval: float) -> None:
        super().__init__(daemon=True)
        self.sock, self.data, self.interval = sock, data, interval
        self.started = time.monotonic()
        self.closed_after: float | None = None
        self.sent = 0
        self.answer = b""

    def run(self) -> None:
        self.sock.settimeout(self.interval)
        for byte in self.data:
            try:
                self.sock.sendall(bytes([byte]))
                self.sent += 1
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.answer += chunk
        self.closed_after = time.monotonic() - self.started
        self.sock.close()


# --- slow clients ------------------------------------------------------------------------------


def test_slow_headers_are_cut_at_the_header_timeout_while_others_are_served(bounded) -> None:
    timeout = CONNECTIONS["header_timeout_seconds"]
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 500
    slow = [_Trickler(_connect(bounded), request, 0.05) for _ in range(5)]
    for client in slow:
        client.start()
    served = []
    with httpx.Client(base_url=bounded.url, timeout=timeout,
                      transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other:
        for _ in range(3):
            served.append(other.get("/healthz").status_code)
            assert all(client.closed_after is None for client in slow)  # still sending
    for client in slow:
        client.join(timeout=timeout + 30)
        assert client.closed_after is not None, "the server never closed a slow client"
        assert timeout * 0.9 <= client.closed_after, client.closed_after
        assert client.sent < len(request)  # cut mid-headers, not at their end
        assert _status(client.answer) == 408
        assert _problem(client.answer)["limit"] == "header_timeout_seconds"
    assert served == [200] * 3


def test_an_idle_connection_is_closed_at_the_header_timeout(bounded) -> None:
    with _connect(bounded) as sock:
        started = time.monotonic()
        assert _read_all(sock) == b""  # closed without a word: nothing was asked
        assert time.monotonic() - started >= CONNECTIONS["header_timeout_seconds"] * 0.9


def test_a_slow_body_is_cut_with_408(bounded) -> None:
    token = bounded.user("slowpoke")
    head = (f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n").encode()
    sock = _connect(bounded)
    sock.sendall(head)
    client = _Trickler(sock, b'{"program_id": "' + b"x" * 4000, 0.05)
    client.run()
    limit = CONNECTIONS["body_timeout_seconds"]
    assert client.closed_after is not None and client.closed_after >= limit * 0.9
    assert client.sent < 4000
    assert _status(client.answer) == 408
    assert _problem(client.answer)["limit"] == "body_timeout_seconds"


# --- sizes -------------------------------------------------------------------------------------


def test_413_comes_from_content_length_alone(bounded) -> None:
    token = bounded.user("bigmouth")
    for content_type, limit in (("application/json", "max_body_bytes"),
                                ("multipart/form-data; boundary=x", "max_upload_bytes")):
        with _connect(bounded) as sock:
            sock.sendall((f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
                          "Content-Length: 99999999999\r\n\r\n{}").encode())
            # No more of the body is ever sent: waiting for it would end in 408, not 413.
            answer = _answer(sock)
            assert _status(answer) == 413, answer
            assert _problem(answer)["limit"] == limit
            # The unread body is dropped for a moment, then the server closes (a socket
            # timeout here would mean it kept the connection).
            assert _read_all(sock) == b""


def _header(answer: bytes, name: bytes) -> bytes:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    raise AssertionError(f"no {name!r} header in {answer[:300]!r}")


def test_header_floods_get_431(bounded) -> None:
    limit = CONNECTIONS["max_header_bytes"]
    whole = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * limit + b"\r\n\r\n"
    with _connect(bounded) as sock:  # all at once: h11 parses it, the app refuses it
        sock.sendall(whole)
        answer = _answer(sock)
        assert _status(answer) == 431 and b"max_header_bytes" in answer
    with _connect(bounded) as sock:  # in pieces: refused once the buffer passes the limit
        unfinished = whole[:-4]
        for start in range(0, len(unfinished), 1024):
            try:
                sock.sendall(unfinished[start:start + 1024])
            except OSError:
                break
            time.sleep(0.01)
        answer = _read_all(sock)
        assert _status(answer) == 431 and b"max_header_bytes" in answer
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(CONNECTIONS["max_header_count"] + 1))
    with _connect(bounded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n")
        answer = _answer(sock)
        assert _status(answer) == 431 and b"max_header_count" in answer
    with _connect(bounded) as sock:  # the limit is not off by one
        few = b"".join(b"X-H%d: v\r\n" % i for i in range(CONNECTIONS["max_header_count"] - 1))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + few + b"\r\n")
        assert _status(_answer(sock)) == 200


# --- connection caps -------------------------------------------------------------------------


def test_one_address_gets_503_past_its_cap_and_the_others_still_work(bounded) -> None:
    cap = CONNECTIONS["max_per_client"]
    held = [_connect(bounded, "127.0.0.3") for _ in range(cap)]
    try:
        assert [_status(_get(sock)) for sock in held] == [200] * cap  # kept alive after
        with _connect(bounded, "127.0.0.3") as extra:
            answer = _answer(extra)  # the refusal comes before any request is sent
            assert _status(answer) == 503 and _header(answer, b"retry-after") == b"1"
            assert _problem(answer)["type"].endswith(":too-many-connections")
            assert _read_all(extra) == b""  # then a clean close
        assert [_status(_get(sock)) for sock in held] == [200] * cap
        with _connect(bounded, "127.0.0.4") as elsewhere:
            assert _status(_get(elsewhere)) == 200
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10  # the server counts the closed ones out
    while True:
        with _connect(bounded, "127.0.0.3") as again:
            if _status(_get(again)) == 200:
                break
        assert time.monotonic() < deadline, "closed connections still counted"
        time.sleep(0.1)


def test_the_total_cap_refuses_with_503(bounded) -> None:
    total = CONNECTIONS["max_total"]
    held: list[socket.socket] = []
    refused = None
    try:
        for i in range(total + 1):  # two per address, so the per-address cap stays out of it
            sock = _connect(bounded, f"127.0.1.{i // 2 + 1}")
            answer = _get(sock)
            held.append(sock)
            if _status(answer) == 503:
                refused = i
                break
        assert refused is not None, "no refusal past the total"
        assert refused <= total  # admitted ones + any other open ones reached the total
        assert refused >= total - 2  # and nothing much else was open
    finally:
        for sock in held:
            sock.close()


# --- event streams ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sleeper(bounded) -> str:
    with bounded.client(bounded.user("streamer")) as service:
        program_id = service.upload_program(SLEEPER, SLEEPER_METADATA)
        service.set_program_visibility(program_id, True)
    return program_id


@pytest.fixture(scope="module")
def cancel(bounded) -> Iterator[Callable[[str], None]]:
    """``cancel(job_id)``: stop a test's job (as an admin, whoever owns it)."""
    with bounded.http(bounded.user("cleaner", admin=True)) as admin:
        yield lambda job_id: admin.post(f"/v1/jobs/{job_id}/cancel")


def _long_job(daemon: Daemon, token: str, program_id: str) -> str:
    with daemon.http(token) as client:
        response = client.post("/v1/jobs", json={"program_id": program_id,
                                                 "inputs": {"seconds": 60}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


class _StreamReader(threading.Thread):
    """Reads a job's event stream to its end; ``opened`` once it answered 200."""

    def __init__(self, daemon: Daemon, token: str, job_id: str) -> None:
        super().__init__(daemon=True)
        self.target, self.token, self.job_id = daemon, token, job_id
        self.opened = threading.Event()
        self.lines: list[str] = []

    def run(self) -> None:
        with self.target.http(self.token) as client, \
                client.stream("GET", f"/v1/jobs/{self.job_id}/stream") as response:
            assert response.status_code == 200
            self.opened.set()
            for line in response.iter_lines():
                self.lines.append(line)


def test_a_stream_ends_when_its_token_is_revoked(bounded, sleeper, cancel) -> None:
    from engine.store import open_database

    token = bounded.user("revoked")
    job_id = _long_job(bounded, token, sleeper)
    reader = _StreamReader(bounded, token, job_id)
    reader.start()
    try:
        assert reader.opened.wait(timeout=30)
        time.sleep(STREAMS["stream_recheck_seconds"] * 3)
        assert reader.is_alive()  # open while the token is good
        with open_database(home=bounded.home) as database, database.write() as tx:
            assert tx.users.revoke("revoked") == 1
        reader.join(timeout=30)
        assert not reader.is_alive(), "the stream outlived its token"
        assert "event: unauthorized" in reader.lines
    finally:
        cancel(job_id)


def test_a_stream_ends_when_the_user_loses_access(bounded, sleeper, cancel) -> None:
    from sqlalchemy import update

    from engine.store import open_database
    from engine.store.models import User

    owner, admin = bounded.user("owner1"), bounded.user("admin1", admin=True)
    job_id = _long_job(bounded, owner, sleeper)
    reader = _StreamReader(bounded, admin, job_id)
    reader.start()
    try:
        assert reader.opened.wait(timeout=30)
        time.sleep(STREAMS["stream_recheck_seconds"] * 3)
        assert reader.is_alive()  # open while the user is an admin
        with open_database(home=bounded.home) as database, database.write() as tx:
            tx.session.execute(update(User).where(User.name == "admin1").values(is_admin=False))
        reader.join(timeout=30)
        assert not reader.is_alive(), "the stream outlived the user's access"
        assert "event: gone" in reader.lines
        with bounded.http(admin) as demoted:
            assert demoted.get(f"/v1/jobs/{job_id}").status_code == 404
    finally:
        cancel(job_id)


def test_open_streams_are_capped_per_user_and_in_all(bounded, sleeper, cancel) -> None:
    first, second = bounded.user("greedy"), bounded.user("modest")
    job_a, job_b = _long_job(bounded, first, sleeper), _long_job(bounded, second, sleeper)
    clients: list[httpx.Client] = []
    streams = []

    def open_stream(token: str, job_id: str) -> httpx.Response:
        client = httpx.Client(base_url=bounded.url, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        clients.append(client)
        response = client.send(client.build_request("GET", f"/v1/jobs/{job_id}/stream"),
                               stream=True)
        streams.append(response)
        return response

    try:
        per_user = STREAMS["max_streams_per_user"]
        assert [open_stream(first, job_a).status_code for _ in range(per_user)] == [200] * per_user
        over = open_stream(first, job_a)
        over.read()
        assert over.status_code == 429 and over.json()["error"] == "QuotaExceeded"
        assert int(over.headers["retry-after"]) >= 1
        assert open_stream(second, job_b).status_code == 200  # the total: 3 of 3
        assert _metrics(bounded)["program_engine_event_streams_open"] == 3
        full = open_stream(second, job_b)
        full.read()
        assert full.status_code == 503 and full.json()["limit"] == "max_streams_total"
        streams[0].close()  # a closed stream gives its slot back
        deadline = time.monotonic() + 10
        while True:
            again = open_stream(second, job_b)
            if again.status_code == 200:
                break
            again.read()
            assert time.monotonic() < deadline, "a closed stream kept its slot"
            time.sleep(0.1)
    finally:
        for response in streams:
            response.close()
        for client in clients:
            client.close()
        cancel(job_a)
        cancel(job_b)


# --- the log -------------------------------------------------------------------------------------


def test_alike_warnings_are_rate_limited_and_counted(bounded) -> None:
    cap, burst = CONNECTIONS["max_per_client"], LOG_LIMIT["burst"]
    marker = "refused a connection from 127.0.0.9"

    def refuse(times: int) -> None:
        held = [_connect(bounded, "127.0.0.9") for _ in range(cap)]
        try:
            for _ in range(times):
                with _connect(bounded, "127.0.0.9") as extra:
                    assert _status(_answer(extra)) == 503
        finally:
            for sock in held:
                sock.close()

    def logged() -> list[str]:
        return [line for line in bounded.log_text().splitlines() if marker in line]

    time.sleep(LOG_LIMIT["interval_seconds"])  # a fresh window for this kind of warning
    refuse(burst + 7)
    time.sleep(0.5)
    assert len(logged()) == burst  # 7 suppressed
    time.sleep(LOG_LIMIT["interval_seconds"])
    refuse(1)
    time.sleep(0.5)
    lines = logged()
    assert len(lines) == burst + 1
    assert "[7 more like this suppressed in the previous" in lines[-1]
    figures = _metrics(bounded)  # what the log leaves out, the metrics count
    assert figures["program_engine_connections_refused_total"] >= burst + 8
    assert figures["program_engine_log_records_suppressed_total"] >= 7
    assert figures["program_engine_connections_open"] >= 1  # this scrape's own


def _metrics(daemon: Daemon) -> dict[str, float]:
    text = httpx.get(f"{daemon.url}/metrics").text
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line.startswith("program_engine_") and "{" not in line}
