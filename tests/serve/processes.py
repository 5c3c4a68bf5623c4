"""``reba serve`` as a real process on a free loopback port, for the process tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_process(args: list[str], log_path: Path, env: dict | None = None) -> Iterator[str]:
    """Run ``reba serve ARGS --port P`` (this checkout's code) until ``/health`` answers; yield
    its URL; stop it with SIGTERM afterwards. The log goes to ``log_path``."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    command = [sys.executable, "-m", "reba.cli.main", "serve", *args, "--port", str(port)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300  # a loaded machine imports torch slowly
            while True:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the server did not come up"
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:  # open, no key
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
