"""What each method costs: forward passes and tokens per text, and texts/s against PromptEOL.

Run from the repository root:

    python benchmarks/bench_methods.py [--data ../shared/data] [--n 128] [--model gemma-3-270m]
                                       [--methods all] [--repeats 3] [--write benchmarks/RESULTS.md]

Texts: field ``s1`` of the first ``--n`` rows of zh_STSB. Every preset (or ``--methods``) embeds
them with ``reba.Embedder(lm, method=...).encode(texts, batch_size=16)`` (repetition methods at
their default k), once per round in the same order, for ``--repeats`` rounds; the table shows
medians and each method's rate relative to ``prompteol`` measured in the same rounds. Work done
once per model (EmbedFilter's decomposition of the LM head) is timed apart. A hook on
the model counts its forward passes' rows and real tokens (Contrastive Prompting's auxiliary
passes stop at its layer: they are counted, and marked partial).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench_core import (
    DEFAULT_DATA,
    command_line,
    contended,
    load_texts,
    log,
    machine,
    timed,
    wait_for_idle,
)
from results_md import write_section

import reba
from reba.engine.counter import ForwardCounter
from reba.engine.heads import projection_of
from reba.methods import PRESETS, ContrastivePrompting, parse_method
from reba.methods.interventions import scaled_layer


def measure(lm, texts, methods, repeats: int, idle: float) -> dict:
    embedders = {m: reba.Embedder(lm, method=m) for m in methods}
    setup = one_off(lm, methods)
    costs = {}
    for name, embedder in embedders.items():  # warm-up, and the counts (one pass each)
        with ForwardCounter(lm.model) as counter:
            embedder.encode(texts, show_progress_bar=False)
        costs[name] = (counter.rows / len(texts), counter.tokens / len(texts))
    clean, noisy = [], []
    while len(clean) < repeats and len(clean) + len(noisy) < 3 * repeats:
        wait_for_idle(idle)
        runs = {
            m: timed(lambda e=e: e.encode(texts, show_progress_bar=False))
            for m, e in embedders.items()
        }
        for m, (s, c, _) in runs.items():
            log(f"round {len(clean) + len(noisy) + 1} {m:>14}: {s:7.2f} s ({c:.2f} cores)")
        noisy_round = any(contended(c) for _, c, _ in runs.values())
        if noisy_round:
            log("round discarded: another process took CPU")
        (noisy if noisy_round else clean).append(runs)
    kept = clean or noisy  # with no clean round at all, report the noisy ones (flagged)
    seconds = {m: [runs[m][0] for runs in kept] for m in methods}
    cores = {m: [runs[m][1] for runs in kept] for m in methods}
    discarded = len(noisy) if clean else 0
    return {
        "costs": costs,
        "seconds": seconds,
        "cores": cores,
        "discarded": discarded,
        "setup": setup,
    }


def one_off(lm, methods) -> dict[str, float]:
    """Seconds of the work done once per model, before the first text: EmbedFilter's singular
    directions of the LM head (cached in memory afterwards, so not in the timed rounds)."""
    parts = {parse_method(m).recipe.embedfilter for m in methods} - {None}
    if not parts:
        return {}
    started = time.perf_counter()
    for part in parts:
        projection_of(lm, part)
    return {"EmbedFilter's singular directions of the head": time.perf_counter() - started}


def moee_runnable(lm, methods: list[str]) -> list[str]:
    """MoEE's presets on a mixture-of-experts model with ``stats=none`` (the z-score of fitted
    statistics costs nothing next to the forward; fitting is not timed); dropped on a dense
    model, where they are refused."""
    from reba.engine.routers import has_routers
    from reba.moee import with_moee

    out = []
    for name in methods:
        if parse_method(name).recipe.moee is None:
            out.append(name)
        elif has_routers(lm):
            out.append(with_moee(name, stats="none"))
        else:
            log(f"{name}: skipped, {lm.name} is not a mixture-of-experts model")
    return out


def table(lm, texts, results) -> list[str]:
    rows = [
        "| method | forwards / text | tokens / text | texts/s | vs prompteol | runs (s) | cores |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    base = len(texts) / statistics.median(results["seconds"]["prompteol"])
    for name, runs in results["seconds"].items():
        forwards, tokens = results["costs"][name]
        rate = len(texts) / statistics.median(runs)
        rows.append(
            f"| {name} | {forwards:.1f}{partial(lm, name)} | {tokens:.0f} | {rate:.1f} "
            f"| {rate / base:.2f} | {', '.join(f'{s:.1f}' for s in runs)} "
            f"| {statistics.median(results['cores'][name]):.2f} |"
        )
    return rows


def partial(lm, name: str) -> str:
    """Which of the forwards stop early (CP's auxiliary passes)."""
    recipe = parse_method(name).recipe
    if not isinstance(recipe.intervention, ContrastivePrompting):
        return ""
    layer = scaled_layer(recipe.intervention.layer_of_32, lm.num_layers)
    half = len(recipe.inputs)
    return f" ({half} of them to layer {layer + 1} of {lm.num_layers})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--methods", default="all", help="comma-separated, or all presets")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--idle-wait", type=float, default=600)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    methods = list(PRESETS) if args.methods == "all" else args.methods.split(",")
    if "prompteol" not in methods:
        methods.insert(0, "prompteol")
    load_start = os.getloadavg()[0]
    lm = reba.load_model(args.model)
    methods = moee_runnable(lm, methods)
    texts = load_texts(args.data, args.n)
    results = measure(lm, texts, methods, args.repeats, args.idle_wait)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## bench_methods: {when}",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command_line()}`",
        f"- Load average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f}; "
        f"{results['discarded']} round(s) discarded because another process took CPU"
        + (
            ""
            if results["discarded"]
            or min(min(c) for c in results["cores"].values())
            >= 0.85 * __import__("torch").get_num_threads()
            else " (NOISY: no clean round)"
        ),
        f"- Texts: s1 of the first {args.n} rows of zh_STSB; model {args.model} "
        f"({lm.num_layers} layers, float32); batch size 16; median of {args.repeats} rounds.",
        *(
            f"- Once per model (not in the rounds): {what}, {s:.1f} s"
            for what, s in results["setup"].items()
        ),
        "",
        *table(lm, texts, results),
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if args.write:
        write_section(args.write, section)
        log(f"appended to {args.write}")


if __name__ == "__main__":
    sys.exit(main())
