"""Ray engine at scale: throughput and the driver's peak memory against corpus size (not a test).

Run from the repository root:

    python benchmarks/bench_ray_scale.py [--sizes 20000,200000,500000] [--model tiny-random-llama]
                                         [--method mean] [--batch-size 128] [--num-actors 2]
                                         [--baseline REF] [--write benchmarks/RESULTS.md]

For each size, writes a JSONL corpus of short generated rows (2-12 words such as ``w417``, an id
each) and runs ``reba embed --engine ray`` on it in a fresh process that starts its own local
Ray. That process is the driver; it reports its own peak resident memory (``VmHWM`` of
``/proc/self/status``, which starts afresh at exec, unlike ``ru_maxrss``) when the command
returns. Ray's own processes (GCS, raylet, workers) are not the driver and are not counted. Each
output is checked: every row once, none twice. Reported: rows/s by the command's summary (the
whole pipeline, actors' start and model load included), wall clock, the driver's peak RSS, and
its growth per row between sizes, in KB.

``--baseline REF`` also runs the engine of git revision REF (extracted with ``git archive`` into
a temporary folder) on the two smallest sizes, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq
from results_md import write_section

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"reba embed: .*? ([\d.]+) s, ([\d.]+) texts/s")
# Runs reba's command line in this process, then prints the process's peak and current RSS.
DRIVER = """
import json, sys
from reba.cli.main import main
code = main(sys.argv[1:])
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
kb = lambda key: int(status[key].split()[0])
print("DRIVER " + json.dumps({"code": code, "peak_kb": kb("VmHWM"), "rss_kb": kb("VmRSS")}),
      file=sys.stderr)
"""


def write_corpus(path: Path, rows: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            text = " ".join(f"w{rng.randrange(1000)}" for _ in range(rng.randint(2, 12)))
            f.write(json.dumps({"id": f"d{i}", "text": text}) + "\n")


def run_driver(args, corpus: Path, out: Path, src: Path) -> dict:
    command = [sys.executable, "-c", DRIVER, "embed", "--engine", "ray", "--quiet"]
    command += [
        "--model",
        args.model,
        "--method",
        args.method,
        "--batch-size",
        str(args.batch_size),
    ]
    command += ["--num-actors", str(args.num_actors), "--input", str(corpus), "--output", str(out)]
    env = {**os.environ, "PYTHONPATH": str(src)}
    load = os.getloadavg()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    report = [line for line in done.stderr.splitlines() if line.startswith("DRIVER ")]
    if done.returncode != 0 or not report:
        raise SystemExit(f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}")
    driver = json.loads(report[-1][len("DRIVER ") :])
    match = SUMMARY.search(done.stderr)
    return {
        **driver,
        "seconds": float(match.group(1)),
        "rows_per_s": float(match.group(2)),
        "wall": wall,
        "load": (load[0], os.getloadavg()[0]),
    }


def check_output(out: Path, rows: int) -> None:
    """Every row once: the new layout (file, row) or the old one (row)."""
    table = pq.read_table(out, columns=["row"])
    got = table.column("row").to_pylist()
    if len(got) != rows or len(set(got)) != rows:
        raise SystemExit(f"{out}: {len(got)} rows, {len(set(got))} distinct, {rows} expected")


def baseline_src(ref: str, tmp: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", ref, "src"], cwd=REPO, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
    return tmp / "src"


def growth(results: list[dict]) -> list[str]:
    """Per-row growth of the driver's peak between consecutive sizes, and first to last."""
    pairs = list(zip(results, results[1:]))
    if len(results) > 2:
        pairs.append((results[0], results[-1]))
    return [
        f"{a['rows']:,} -> {b['rows']:,} rows: "
        f"{(b['peak_kb'] - a['peak_kb']) / (b['rows'] - a['rows']):+.4f} KB/row"
        for a, b in pairs
    ]


def markdown(args, engines: dict[str, list[dict]]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shown = shlex.join(["python", "benchmarks/bench_ray_scale.py", *sys.argv[1:]])
    lines = [
        f"## Ray engine at scale: driver memory (bench_ray_scale.py), {when}",
        "",
        f"Command: `{shown}`",
        "",
        f"{os.cpu_count()} cores; generated JSONL rows of 2-12 words (`w0`..`w999`); {args.model} "
        f"{args.method}, batch size {args.batch_size}, {args.num_actors} actors on a local Ray "
        "started by the driver; default --shard-rows (10000). Driver peak = VmHWM of the "
        "driver process.",
        "",
        "| engine | rows | rows/s (summary) | wall clock, s | driver peak RSS, MB "
        "| load average (1 min) before -> after |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for engine, results in engines.items():
        for r in results:
            lines.append(
                f"| {engine} | {r['rows']:,} | {r['rows_per_s']:.0f} | {r['wall']:.0f} | "
                f"{r['peak_kb'] / 1024:.0f} | {r['load'][0]:.1f} -> {r['load'][1]:.1f} |"
            )
    lines.append("")
    for engine, results in engines.items():
        lines.append(f"Driver peak growth, {engine}: " + "; ".join(growth(results)) + ".")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="20000,200000,500000")
    parser.add_argument("--model", default="tiny-random-llama")
    parser.add_argument("--method", default="mean")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--num-actors", type=int, default=2)
    parser.add_argument("--baseline", help="git revision whose engine to run on the 2 smallest")
    parser.add_argument("--write", type=Path, help="append a Markdown section to this file")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    engines: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="reba-bench-scale-") as tmp:
        tmp = Path(tmp)
        sources = {"this": REPO / "src"}
        if args.baseline:
            sources[args.baseline] = baseline_src(args.baseline, tmp)
        for rows in sizes:
            corpus = tmp / f"corpus-{rows}.jsonl"
            write_corpus(corpus, rows)
            for engine, src in sources.items():
                if engine != "this" and rows not in sizes[:2]:
                    continue
                out = tmp / f"out-{engine}-{rows}"
                result = {"rows": rows, **run_driver(args, corpus, out, src)}
                check_output(out, rows)
                engines.setdefault(engine, []).append(result)
                print(f"{engine} {rows}: {result}", file=sys.stderr, flush=True)
                subprocess.run(["rm", "-rf", str(out)], check=True)
            corpus.unlink()
    section = markdown(args, engines)
    print(section)
    if args.write:
        write_section(args.write, section)
        print(f"appended to {args.write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
