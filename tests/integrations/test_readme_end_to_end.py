"""The README's end-to-end example, run as written: ``reba embed`` to a folder, the folder as a
LanceDB table, ``reba serve`` of the same configuration, and a query from the openai client
answered with the nearest documents. Only the port changes (a free one instead of 8000).

The printed hits are checked against the cosine ranking computed here with numpy from
``Embedder.encode`` (the example's configuration file, on the bundled SmolLM2-135M)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from readme import code_block

import reba

SECTION = "### End to end: embed to a folder, load a store, serve, query"
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def blocks(port: int) -> tuple[str, str, str]:
    embed = code_block(SECTION, "bash")
    serve = code_block("--input docs.jsonl --output emb/\n```", "bash")  # the next bash block
    query = code_block(SECTION, "python")
    assert embed.startswith("cat > docs.jsonl") and serve.startswith("reba serve")
    assert "8000" in serve and "8000" in query
    return embed, serve.replace("8000", str(port)), query.replace("8000", str(port))


def wait_for(url: str, proc: subprocess.Popen, log: Path, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the server did not come up:\n" + log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)


def test_readme_end_to_end_example(tmp_path, smollm2):
    port = free_port()
    embed, serve, query = blocks(port)
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1"}
    env.pop("REBA_API_KEY", None)  # the example serves without a key, on loopback
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", embed],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            ["bash", "-c", serve],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(f"http://127.0.0.1:{port}", server, log)
        answered = subprocess.run(
            [sys.executable, "-c", query], cwd=tmp_path, env=env, capture_output=True, text=True
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=120)
    assert answered.returncode == 0, answered.stderr
    printed = [line.split(" ", 2) for line in answered.stdout.strip().splitlines()]

    rows = [json.loads(line) for line in (tmp_path / "docs.jsonl").read_text().splitlines()]
    embedder = reba.Embedder.from_config(tmp_path / "best.json", model=smollm2)  # the file
    docs = embedder.encode([row["text"] for row in rows], normalize=True)
    q = embedder.encode("Who raised interest rates?", normalize=True)
    assert "Who raised interest rates?" in query
    cosines = docs @ q
    order = np.argsort(-cosines)[:2]
    assert [p[0] for p in printed] == [rows[i]["id"] for i in order]
    assert [p[2] for p in printed] == [rows[i]["text"] for i in order]
    np.testing.assert_allclose([float(p[1]) for p in printed], cosines[order], atol=2e-3)
    assert printed[0][0] == "rates"  # and the answer makes sense
