"""Corpus throughput: ``reba embed --engine ray`` against the local engine (not a test).

Run from the repository root:

    python benchmarks/bench_ray.py [--model gemma-3-270m] [--method reba] [-k 2] [--texts 512]
                                   [--num-actors 2] [--shard-rows 64] [--rounds 2] [--packing]
                                   [--data ../shared/data/sentence/zh_STSB.jsonl]
                                   [--write benchmarks/RESULTS.md]

Writes a JSONL corpus of ``--texts`` rows (``id``, ``text`` = field ``s1`` of ``--data``), then
runs the two ``reba embed`` command lines in subprocesses, alternating (local, ray, ray, local,
... for ``--rounds``), each into a fresh output. Reported per run: the command's own summary
(texts/s over the embedding, which for Ray is the whole pipeline including starting the actors
and loading the model in each) and the wall clock of the whole command (model load and Ray's
start included); the median of each, the ratio ray/local, and the largest difference between
the two outputs row for row. ``--packing`` passes ``--packing`` to both engines. Ray embeds a
range of ``--shard-rows`` rows per actor call, so the corpus is cut into several ranges per
actor. ``--write`` appends a Markdown section to the file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from bench_serve import load_texts  # same texts: s1 of --data, blank rows skipped
from results_md import write_section

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "sentence" / "zh_STSB.jsonl"
SUMMARY = re.compile(r"reba embed: .*? ([\d.]+) s, ([\d.]+) texts/s")


def write_corpus(data: Path, n: int, path: Path) -> None:
    rows = [{"id": f"t{i}", "text": text} for i, text in enumerate(load_texts(data, n))]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def commands(args, corpus: Path, out: Path) -> dict[str, list[str]]:
    common = ["--model", args.model, "--method", args.method, "-k", str(args.k), "--quiet"]
    common += ["--batch-size", str(args.batch_size), "--input", str(corpus)]
    if args.packing:
        common.append("--packing")
    return {
        "local": ["reba", "embed", *common, "--output", str(out / "local.parquet")],
        "ray": [
            *("reba", "embed", *common, "--engine", "ray"),
            *("--num-actors", str(args.num_actors), "--shard-rows", str(args.shard_rows)),
            *("--output", str(out / "ray")),
        ],
    }


def run_once(command: list[str]) -> dict:
    start = time.perf_counter()
    load = os.getloadavg()[0]
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}")
    match = SUMMARY.search(done.stderr)
    if match is None:
        raise SystemExit(f"no summary line in the output of {shlex.join(command)}")
    return {
        "seconds": float(match.group(1)),
        "texts_per_s": float(match.group(2)),
        "wall": wall,
        "load": (load, os.getloadavg()[0]),
    }


def embeddings(path: Path) -> dict[str, np.ndarray]:
    table = pq.read_table(path)  # a file, or the Ray engine's folder of parts
    ids = table.column("id").to_pylist()
    vectors = np.asarray(table.column("embedding").to_pylist(), dtype=np.float32)
    return dict(zip(ids, vectors))


def largest_difference(local: Path, ray: Path) -> float:
    a, b = embeddings(local), embeddings(ray)
    if a.keys() != b.keys():
        raise SystemExit("the two engines wrote different rows")
    return max(float(np.abs(a[i] - b[i]).max()) for i in a)


def markdown(args, runs: dict[str, list[dict]], diff: float) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    med = {
        engine: (
            statistics.median(r["texts_per_s"] for r in rs),
            statistics.median(r["wall"] for r in rs),
        )
        for engine, rs in runs.items()
    }
    shown = shlex.join(["python", "benchmarks/bench_ray.py", *sys.argv[1:]])
    lines = [
        f"## Corpus embedding: local vs Ray (bench_ray.py), {when}",
        "",
        f"Command: `{shown}`",
        "",
        f"{os.cpu_count()} cores; {args.texts} texts (`s1` of `{args.data.name}`), "
        f"{args.model} {args.method} k={args.k}, batch size {args.batch_size}"
        f"{', --packing' if args.packing else ''}; Ray: "
        f"{args.num_actors} actors on a local Ray, --shard-rows {args.shard_rows}. Runs alternate "
        "local, ray, ray, local, ...",
        "",
        "| engine | texts/s (summary) | wall clock, s | load average (1 min) before -> after |",
        "|---|---|---|---|",
    ]
    for engine, rs in runs.items():
        rates = " / ".join(f"{r['texts_per_s']:.1f}" for r in rs)
        walls = " / ".join(f"{r['wall']:.1f}" for r in rs)
        loads = " / ".join(f"{r['load'][0]:.1f} -> {r['load'][1]:.1f}" for r in rs)
        lines.append(f"| {engine} | {rates} | {walls} | {loads} |")
    lines += [
        "",
        f"Medians: local {med['local'][0]:.1f} texts/s ({med['local'][1]:.1f} s wall), ray "
        f"{med['ray'][0]:.1f} texts/s ({med['ray'][1]:.1f} s wall); ray / local = "
        f"{med['ray'][0] / med['local'][0]:.2f} by the summaries, "
        f"{med['local'][1] / med['ray'][1]:.2f} by wall clock. Largest difference between the "
        f"two outputs, row for row: {diff:.2e}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--method", default="reba")
    parser.add_argument("-k", type=int, default=2)
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--num-actors", type=int, default=2)
    parser.add_argument("--shard-rows", type=int, default=64, help="ray: rows per range")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--packing", action="store_true", help="reba embed --packing (both)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="jsonl with field s1")
    parser.add_argument("--write", type=Path, help="append a Markdown section to this file")
    args = parser.parse_args(argv)

    runs: dict[str, list[dict]] = {"local": [], "ray": []}
    with tempfile.TemporaryDirectory(prefix="reba-bench-ray-") as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        write_corpus(args.data, args.texts, corpus)
        for round_ in range(args.rounds):
            order = ["local", "ray"] if round_ % 2 == 0 else ["ray", "local"]
            for engine in order:
                out = Path(tmp) / f"{engine}-{round_}"
                out.mkdir()
                runs[engine].append(run_once(commands(args, corpus, out)[engine]))
                print(f"{engine}: {runs[engine][-1]}", file=sys.stderr, flush=True)
        last = Path(tmp) / f"local-{args.rounds - 1}" / "local.parquet"
        diff = largest_difference(last, Path(tmp) / f"ray-{args.rounds - 1}" / "ray")
    section = markdown(args, runs, diff)
    print(section)
    if args.write:
        write_section(args.write, section)
        print(f"appended to {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
