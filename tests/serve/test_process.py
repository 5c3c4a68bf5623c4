"""``reba serve`` as a real process: it comes up, answers, refuses a 64 MB body (default
``--max-body-bytes``) in well under a second and keeps serving, and exits cleanly on SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np

import reba


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_reba_serve_process_lifecycle(tmp_path):
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    command = [
        *(sys.executable, "-m", "reba.cli.main", "serve", "--model", "tiny-random-llama"),
        *("--serve", "m=tiny-random-llama:mean", "--port", str(port), "--device", "cpu"),
    ]
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the server did not come up"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        models = httpx.get(f"{url}/v1/models").json()["data"]
        assert [m["id"] for m in models] == ["tiny-random-llama-reba-k2", "m"]
        body = {"model": "m", "input": ["hello world", "x"], "encoding_format": "float"}
        response = httpx.post(f"{url}/v1/embeddings", json=body, timeout=60)
        assert response.status_code == 200, response.text
        got = np.array([d["embedding"] for d in response.json()["data"]])
        start = time.monotonic()
        big = httpx.post(f"{url}/v1/embeddings", content=b"a" * (64 << 20), timeout=30)
        elapsed = time.monotonic() - start
        assert big.status_code == 413 and elapsed < 5, (big.text, elapsed)
        assert big.json()["error"]["code"] == "request_too_large"
        assert "4194304 bytes" in big.json()["error"]["message"]
        again = httpx.post(f"{url}/v1/embeddings", json=body, timeout=60)  # still serving
        assert again.status_code == 200 and again.json()["data"] == response.json()["data"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        log.close()
    output = (tmp_path / "server.log").read_text()
    assert code in (0, -signal.SIGTERM), output  # uvicorn re-raises SIGTERM after shutdown
    assert "Application shutdown complete" in output
    expected = reba.Embedder("tiny-random-llama", method="mean").encode(["hello world", "x"])
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
