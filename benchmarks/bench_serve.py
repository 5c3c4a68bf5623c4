"""Load benchmark of ``reba serve`` on loopback (not a test).

Run from the repository root:

    python benchmarks/bench_serve.py [--model gemma-3-270m] [--method reba] [-k 2]
                                     [--requests 512] [--concurrency 32] [--bad-fraction 0.1]
                                     [--texts-per-request 1] [--no-packing]
                                     [--data ../shared/data/sentence/zh_STSB.jsonl]
                                     [--write benchmarks/RESULTS.md]

Starts ``reba serve`` in a subprocess on 127.0.0.1 (always loopback, on a free port), then
``--concurrency`` asyncio clients (httpx) send ``--requests`` requests of ``--texts-per-request``
texts each (default 1; field ``s1`` of ``--data``; ``encoding_format="base64"``, as the openai
client does), with a fraction
``--bad-fraction`` of malformed requests mixed in (empty and blank texts, wrong types, token
ids, too-long items, broken JSON, unknown model), which must all get a 4xx and never a 5xx.
Then the server gets SIGTERM (it must exit cleanly) and the same good texts are embedded in this
process with ``Embedder.encode`` (same model, configuration and batch size) for the direct
throughput and to check every served vector.

Reported: good texts/s served and direct and their ratio (target: >= 0.70 at 32 clients); the
same per CPU-second of the server process and of the direct run (less sensitive to other jobs on
a shared machine, but it leaves out the clients' own CPU); p50,
p95 and p99 latency of good requests, statuses by count, wrong answers, the server's micro-batch
count, and the machine's load average. ``--write`` APPENDS a Markdown section to the file (other
sections are left as they are). Everything is bounded: ``--timeout`` seconds for the load phase,
``--start-timeout`` for the server to come up. Exit code 1 if any good request was not answered
correctly or any request got a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentence" / "zh_STSB.jsonl"
HOST = "127.0.0.1"  # loopback only, never configurable
TARGET_RATIO = 0.70
BAD_KINDS = ("empty", "blank", "number", "token_ids", "too_long", "broken_json", "unknown_model")


@dataclass
class Outcome:
    kind: str  # "good" or one of BAD_KINDS
    index: int  # position in the plan
    status: int = 0  # 0: no response (connection error or timeout)
    seconds: float = 0.0
    vector: np.ndarray | None = None
    error: str = ""


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0


def load_texts(path: Path, n: int) -> list[str]:
    texts = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(texts) == n:
                break
            text = json.loads(line).get("s1")
            if isinstance(text, str) and text.strip():
                texts.append(text)
    if len(texts) < n:
        raise SystemExit(f"{path} has only {len(texts)} usable rows, asked for {n}")
    return texts


def plan(n: int, bad_fraction: float, seed: int = 0) -> list[str]:
    """The kind of each request: "good", or a malformed kind, spread at random positions."""
    kinds = ["good"] * n
    bad = sorted(random.Random(seed).sample(range(n), round(n * bad_fraction)))
    for j, i in enumerate(bad):
        kinds[i] = BAD_KINDS[j % len(BAD_KINDS)]
    return kinds


def request_body(kind: str, texts: list[str], model: str, max_chars: int) -> bytes:
    text = texts[0] if len(texts) == 1 else texts  # one text is sent as a string
    body: dict = {"model": model, "input": text, "encoding_format": "base64"}
    if kind == "empty":
        body["input"] = ""
    elif kind == "blank":
        body["input"] = ["a fine text", "   "]
    elif kind == "number":
        body["input"] = 42
    elif kind == "token_ids":
        body["input"] = [101, 2023, 102]
    elif kind == "too_long":
        body["input"] = "字" * (max_chars + 1)
    elif kind == "unknown_model":
        body["model"] = model + "-nope"
    elif kind == "broken_json":
        return b'{"model": "' + model.encode() + b'", "input": ["unfinished'
    return json.dumps(body).encode()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "reba.cli.main",
        "serve",
        "--model",
        args.model,
        "--method",
        args.method,
        "--name",
        "bench",
        "--host",
        HOST,
        "--port",
        str(port),
        "--batch-size",
        str(args.batch_size),
        "--max-wait-ms",
        str(args.max_wait_ms),
        "--max-batch-items",
        str(args.max_batch_items),
        "--max-chars",
        str(args.max_chars),
        "--device",
        "cpu",
        "--log-level",
        "info",
        "--no-access-log",
    ]
    if args.k is not None:
        command += ["-k", str(args.k)]
    if not args.packing:
        command.append("--no-packing")
    log = log_path.open("w")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, log_path: Path) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            response = httpx.get(f"{url}/health", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.kill()
    raise SystemExit(f"the server did not become healthy in {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop_server(proc: subprocess.Popen, timeout: float = 60) -> int:
    """SIGTERM, as a process manager would; the server must drain and exit cleanly."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


# --- the clients ----------------------------------------------------------------------------


async def load(url: str, bodies: list[tuple[str, bytes]], concurrency: int, timeout: float) -> Run:
    run = Run(outcomes=[Outcome(kind, i) for i, (kind, _) in enumerate(bodies)])
    queue = iter(range(len(bodies)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"content-type": "application/json", "authorization": "Bearer x"}

    async def client(http: httpx.AsyncClient) -> None:
        for i in queue:
            outcome = run.outcomes[i]
            start = time.perf_counter()
            try:
                response = await http.post("/v1/embeddings", content=bodies[i][1])
                outcome.status = response.status_code
                if response.status_code == 200:
                    data = response.json()["data"]
                    outcome.vector = np.stack(
                        [np.frombuffer(base64.b64decode(d["embedding"]), "<f4") for d in data]
                    )
                else:
                    outcome.error = response.json()["error"]["message"][:200]
            except (httpx.HTTPError, ValueError, KeyError) as err:
                outcome.error = f"{type(err).__name__}: {err}"[:200]
            outcome.seconds = time.perf_counter() - start

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120, headers=headers) as http:
        start = time.perf_counter()
        tasks = [asyncio.create_task(client(http)) for _ in range(concurrency)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        run.seconds = time.perf_counter() - start
    if pending:
        print(f"bench_serve: the load phase hit --timeout {timeout:.0f} s", file=sys.stderr)
    return run


# --- the report -----------------------------------------------------------------------------


def summarize(
    args,
    run: Run,
    texts: list[str],
    direct: np.ndarray,
    direct_seconds: float,
    stats: dict,
    shutdown: str,
    loads: list[str],
) -> tuple[dict, str]:
    good = [o for o in run.outcomes if o.kind == "good"]
    bad = [o for o in run.outcomes if o.kind != "good"]
    statuses = Counter(o.status for o in run.outcomes)
    wrong, max_diff = 0, 0.0
    for o in good:
        if o.status != 200 or o.vector is None or o.vector.shape != direct[o.index].shape:
            wrong += 1
            continue
        max_diff = max(max_diff, float(np.abs(o.vector - direct[o.index]).max()))
        if not np.allclose(o.vector, direct[o.index], atol=1e-4, rtol=1e-4):
            wrong += 1
    answered = [o.seconds for o in good if o.status == 200]
    latency = np.percentile(answered, [50, 95, 99]) * 1000 if answered else [float("nan")] * 3
    per = args.texts_per_request
    served_rate = per * sum(o.status == 200 for o in good) / run.seconds
    direct_rate = len(texts) / direct_seconds
    ratio = served_rate / direct_rate
    served_cpu_rate = per * sum(o.status == 200 for o in good) / stats["cpu_seconds"]
    direct_cpu_rate = len(texts) / stats["direct_cpu_seconds"]
    busy = stats["model_seconds"] / run.seconds  # share of the load phase in model calls
    five_xx = sum(n for s, n in statuses.items() if s >= 500)
    bad_not_4xx = sum(not 400 <= o.status < 500 for o in bad)
    figures = {
        "served_texts_per_s": round(served_rate, 1),
        "direct_texts_per_s": round(direct_rate, 1),
        "ratio": round(ratio, 3),
        "served_texts_per_cpu_s": round(served_cpu_rate, 2),
        "direct_texts_per_cpu_s": round(direct_cpu_rate, 2),
        "cpu_ratio": round(served_cpu_rate / direct_cpu_rate, 3),
        "p50_ms": round(float(latency[0]), 1),
        "p95_ms": round(float(latency[1]), 1),
        "p99_ms": round(float(latency[2]), 1),
        "statuses": dict(sorted(statuses.items())),
        "5xx": five_xx,
        "bad_not_4xx": bad_not_4xx,
        "wrong_answers": wrong,
        "max_abs_diff": max_diff,
        "server_batches": stats["batches"],
        "server_items": stats["items"],
        "model_busy": round(busy, 3),
        "server_cpu_s": round(stats["cpu_seconds"], 1),
        "client_cpu_s": round(stats["client_cpu_seconds"], 1),
        "load_s": round(run.seconds, 1),
        "shutdown": shutdown,
    }
    verdict = "zero errors" if five_xx == wrong == bad_not_4xx == 0 else "ERRORS"
    target = "met" if ratio >= TARGET_RATIO else "NOT met"
    by_status = ", ".join(f"{s or 'no response'}: {n}" for s, n in sorted(statuses.items()))
    mean_batch = stats["items"] / max(stats["batches"], 1)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python", "benchmarks/bench_serve.py", *map(shlex.quote, sys.argv[1:])])
    lines = [
        f"## Serving under load: `reba serve` (bench_serve.py), {when}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {os.cpu_count()} cores; load average (1/5/15 min) "
        f"before {loads[0]}, after the load phase {loads[1]}, after the direct run {loads[2]}.",
        f"Server: `reba serve --model {args.model} --method {args.method} -k {args.k}` on "
        f"loopback, `--batch-size {args.batch_size} --max-wait-ms {args.max_wait_ms} "
        f"--max-batch-items {args.max_batch_items}`"
        f"{'' if args.packing else ' --no-packing'}. Clients: {args.concurrency} concurrent "
        f"(asyncio + httpx, same machine), {len(run.outcomes)} requests of {per} text(s) each "
        f"(`s1` of `{args.data.name}`, base64), {len(bad)} of them malformed. Direct: "
        f"`Embedder.encode` of the same {len(texts)} good texts in one process, batch size "
        f"{args.batch_size}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| served, good texts/s | {served_rate:.1f} |",
        f"| direct `Embedder.encode`, texts/s | {direct_rate:.1f} |",
        f"| served / direct | {ratio:.2f} (target >= {TARGET_RATIO:.2f}: {target}) |",
        f"| texts per CPU-second: server process / direct process | {served_cpu_rate:.2f} / "
        f"{direct_cpu_rate:.2f} = {served_cpu_rate / direct_cpu_rate:.2f} |",
        "| latency of good requests p50 / p95 / p99 | "
        f"{latency[0]:.0f} / {latency[1]:.0f} / {latency[2]:.0f} ms |",
        f"| statuses | {by_status} |",
        f"| 5xx / malformed not 4xx / good not answered correctly | "
        f"{five_xx} / {bad_not_4xx} / {wrong} ({verdict}) |",
        f"| largest difference from direct | {max_diff:.2e} |",
        f"| server model batches | {stats['batches']} for {stats['items']} texts "
        f"({mean_batch:.1f} per batch) |",
        f"| model thread busy during the load phase | {busy:.0%} |",
        f"| CPU-seconds in the load phase ({run.seconds:.1f} s): server / clients | "
        f"{stats['cpu_seconds']:.1f} / {stats['client_cpu_seconds']:.1f} |",
        f"| server after SIGTERM | {shutdown} |",
    ]
    return figures, "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = plan(args.requests, args.bad_fraction)
    per = args.texts_per_request
    texts = load_texts(args.data, args.requests * per)
    texts_of = [texts[i * per : (i + 1) * per] for i in range(args.requests)]
    good_indices = [i for i, kind in enumerate(kinds) if kind == "good"]
    bodies = [
        (kind, request_body(kind, texts_of[i], "bench", args.max_chars))
        for i, kind in enumerate(kinds)
    ]
    load_before = load_average()
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "server.log"
        proc = start_server(args, port, log_path)
        try:
            wait_healthy(url, proc, args.start_timeout, log_path)
            warm = [(k, b) for k, b in bodies if k == "good"][: args.concurrency]
            asyncio.run(load(url, warm, args.concurrency, args.timeout))
            before = httpx.get(f"{url}/health", timeout=10).json()["models"]["bench"]
            cpu_before, client_before = cpu_seconds(proc.pid), time.process_time()
            run = asyncio.run(load(url, bodies, args.concurrency, args.timeout))
            cpu_after, client_after = cpu_seconds(proc.pid), time.process_time()
            after = httpx.get(f"{url}/health", timeout=10).json()["models"]["bench"]
        finally:
            exit_code = stop_server(proc)
        server_log = log_path.read_text()
    drained = "Application shutdown complete" in server_log
    clean = drained and exit_code in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM at exit
    shutdown = "drained and exited cleanly" if clean else f"exit code {exit_code}, not clean"
    stats = {key: after[key] - before[key] for key in ("batches", "items", "model_seconds")}
    stats["cpu_seconds"] = cpu_after - cpu_before
    stats["client_cpu_seconds"] = client_after - client_before
    loads = [load_before, load_average()]

    import reba

    embedder = reba.Embedder(args.model, method=args.method, k=args.k, device="cpu")
    good_texts = [text for i in good_indices for text in texts_of[i]]
    embedder.encode(good_texts[: args.batch_size], batch_size=args.batch_size)  # warm-up
    start, cpu_start = time.perf_counter(), time.process_time()
    vectors = embedder.encode(good_texts, batch_size=args.batch_size)
    direct_seconds = time.perf_counter() - start
    stats["direct_cpu_seconds"] = time.process_time() - cpu_start
    direct = np.zeros((args.requests, per, vectors.shape[1]), np.float32)
    direct[good_indices] = vectors.reshape(len(good_indices), per, -1)
    loads.append(load_average())

    figures, section = summarize(
        args, run, good_texts, direct, direct_seconds, stats, shutdown, loads
    )
    print(section)
    print(json.dumps(figures))
    if not clean:
        print(f"bench_serve: server log:\n{server_log[-3000:]}", file=sys.stderr)
    if args.write:
        with args.write.open("a", encoding="utf-8") as f:  # append only
            f.write(("\n" if args.write.stat().st_size else "") + section)
        print(f"appended to {args.write}", file=sys.stderr)
    failed = figures["5xx"] or figures["wrong_answers"] or figures["bad_not_4xx"] or not clean
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--method", default="reba")
    parser.add_argument("-k", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="jsonl with field s1")
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--texts-per-request", type=int, default=1)
    parser.add_argument("--bad-fraction", type=float, default=0.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=50.0)
    parser.add_argument("--max-batch-items", type=int, default=128)
    parser.add_argument("--max-chars", type=int, default=8192)
    parser.add_argument(
        "--no-packing", dest="packing", action="store_false", help="serve with --no-packing"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the load phase")
    parser.add_argument("--start-timeout", type=float, default=600, help="seconds to start")
    parser.add_argument("--write", type=Path, help="append a Markdown section to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 1024:
        parser.error("--requests must be 1..100000 and --concurrency 1..1024")
    if not 0 <= args.bad_fraction < 1:
        parser.error("--bad-fraction must be in [0, 1)")
    return args


if __name__ == "__main__":
    sys.exit(main())
