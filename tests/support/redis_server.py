"""A real Redis server for the tests that need one, started on a free loopback port.

Without `redis-server` on the PATH those tests skip with a reason, so README's test command passes on
any machine; `.ci/run` installs it and sets TASKLENS_REQUIRE_REDIS=1, which turns that skip into a
failure, so CI always runs them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.ports import free_port

REQUIRE = "TASKLENS_REQUIRE_REDIS"


def redis_binary() -> str:
    """The redis-server to start, or a skip (a failure where CI requires Redis)."""
    found = shutil.which("redis-server")
    if found is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{REQUIRE}=1 but {reason}")
        pytest.skip(reason)
    return found


class RedisServer:
    """One redis-server process on 127.0.0.1:`port`, with no persistence; stop and start it again at will."""

    def __init__(self, binary: str, directory: Path, port: int | None = None) -> None:
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        code = self.process.poll()
        self.stop()
        if code is not None:
            raise RuntimeError(f"redis-server exited with code {code} (is {self.directory} a writable directory?)")
        raise RuntimeError(f"redis-server did not answer on port {self.port} within 10 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def flush(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)


@contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(redis_binary(), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
