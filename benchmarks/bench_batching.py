"""What batching costs on the fused path: batch cuts, packing, and batch size on long inputs.

Run from the repository root:

    python benchmarks/bench_batching.py [--data ../shared/data] [--model gemma-3-270m]
                                        [--repeats 3] [--write benchmarks/RESULTS.md]

ReBA-2 (fused backward attention), ``reba.Embedder(lm, method="reba", k=2)``, in the same
rounds:

- short texts (s1 of the first 256 rows of zh_STSB), batch size 16: the engine's cut batches
  (length-sorted, cut where padding costs more than a forward) against uncut batches of 16 and
  against packing several inputs per row;
- long texts (4 texts of about 1,000 tokens, N of about 2,000): batch size 1 (what the eager
  path's attention budget forced) against batch size 16, which the memory budget then caps.

Embeddings of every variant are compared with the first one's.
"""

from __future__ import annotations

import argparse
import os
import statistics
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from bench_core import (
    DEFAULT_DATA,
    command_line,
    contended,
    load_texts,
    log,
    long_texts,
    machine,
    timed,
    wait_for_idle,
)
from results_md import write_section

import reba
from reba.engine import batching


@contextmanager
def uncut():
    """Batches of ``batch_size`` in length order, never cut (a huge per-forward overhead)."""
    saved = batching.FORWARD_OVERHEAD_TOKENS
    batching.plan_batches.__defaults__ = (10**12,)
    try:
        yield
    finally:
        batching.plan_batches.__defaults__ = (saved,)


def variants(embedder, short, long) -> dict:
    quiet = {"show_progress_bar": False}

    def run(texts, batch_size, packing=False, cut=True):
        def go():
            if cut:
                return embedder.embed(texts, batch_size=batch_size, packing=packing, **quiet)
            with uncut():
                return embedder.embed(texts, batch_size=batch_size, packing=packing, **quiet)

        return go

    return {
        "short, cut batches (default)": run(short, 16),
        "short, uncut batches of 16": run(short, 16, cut=False),
        "short, packed": run(short, 16, packing=True),
        "long, batch size 1": run(long, 1),
        "long, batch size 16 (memory-capped)": run(long, 16),
    }


def vectors(result) -> np.ndarray:
    return np.asarray(getattr(result, "embeddings", result), dtype=np.float32)


def measure(steps: dict, repeats: int, idle: float) -> tuple[dict, int]:
    outputs = {name: vectors(step()) for name, step in steps.items()}  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    cores: dict[str, list[float]] = {name: [] for name in steps}
    discarded = 0
    while len(next(iter(seconds.values()))) < repeats and discarded < 2 * repeats:
        wait_for_idle(idle)
        runs = {name: timed(step) for name, step in steps.items()}
        for name, (s, c, _) in runs.items():
            log(f"{name:>36}: {s:6.2f} s ({c:.2f} cores)")
        if any(contended(c) for _, c, _ in runs.values()):
            discarded += 1
            log("round discarded: another process took CPU")
            continue
        for name, (s, c, _) in runs.items():
            seconds[name].append(s)
            cores[name].append(c)
    return {"seconds": seconds, "cores": cores, "outputs": outputs}, discarded


def table(results: dict, counts: dict) -> list[str]:
    lines = [
        "| variant | texts | median s | texts/s | vs baseline | runs (s) | max abs diff |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    outputs, seconds = results["outputs"], results["seconds"]
    base = {"short": "short, cut batches (default)", "long": "long, batch size 1"}
    for name, runs in seconds.items():
        if not runs:
            continue
        group = name.split(",")[0]
        median = statistics.median(runs)
        ref = statistics.median(seconds[base[group]])
        diff = float(np.abs(outputs[name] - outputs[base[group]]).max())
        lines.append(
            f"| {name} | {counts[group]} | {median:.2f} | {counts[group] / median:.2f} "
            f"| {ref / median:.2f} | {', '.join(f'{s:.2f}' for s in runs)} | {diff:.1e} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--idle-wait", type=float, default=600)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    lm = reba.load_model(args.model)
    embedder = reba.Embedder(lm, method="reba", k=2)
    short = load_texts(args.data, 256)
    long = long_texts(lm, args.data, 4, 1000)
    results, discarded = measure(variants(embedder, short, long), args.repeats, args.idle_wait)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## bench_batching: {when}",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command_line()}`",
        f"- Load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f}; "
        f"{discarded} round(s) discarded because another process took CPU",
        f"- ReBA-2, fused path, {args.model}; short: s1 of the first 256 rows of zh_STSB; long: "
        "4 texts of consecutive zh_STSB sentences, about 1,000 tokens each (N of about 2,000); "
        "median of the kept rounds; 'vs baseline' is the baseline's time over the variant's.",
        "",
        *table(results, {"short": len(short), "long": len(long)}),
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        write_section(args.write, section)


if __name__ == "__main__":
    main()
