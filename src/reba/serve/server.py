"""Running the app with uvicorn: in the foreground (the CLI) or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI


def run_server(
    app: FastAPI,
    *,
    host: str,
    port: int,
    root_path: str = "",
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests finish, then the batchers drain.
    ``root_path``: the prefix a reverse proxy serves the app under (and strips)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        root_path=root_path,
        log_level=log_level,
        access_log=access_log,
        lifespan="on",
    )


@dataclass
class RunningServer:
    server: uvicorn.Server
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to exit as on SIGTERM: it finishes in-flight requests first."""
        self.server.should_exit = True


@contextmanager
def serve_in_thread(
    app: FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    root_path: str = "",
    start_timeout: float = 60.0,
) -> Iterator[RunningServer]:
    """Serve ``app`` from a background thread on ``host:port`` (0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level=log_level, root_path=root_path, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="reba-serve", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the embedding server did not start (see its log)")
        time.sleep(0.01)
    running = RunningServer(server, host, sock.getsockname()[1])
    try:
        yield running
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
