"""Core speed and memory benchmark of ReBA sentence embeddings (not a test).

Run from the repository root:

    python benchmarks/bench_core.py [--data ../shared/data] [--n 256] [--model gemma-3-270m]
                                    [--batch-size 16] [--repeats 3] [--quick]
                                    [--long-tokens 500,1000,2000] [--write benchmarks/RESULTS.md]

Texts: field ``s1`` of the first ``--n`` rows of ``<data>/sentence/zh_STSB.jsonl``.
One model is loaded once and shared by every measurement:

  (a)  naive   ReBA-2 one text at a time, keeping every layer's attention (L x H x N x N),
               eager attention with ``output_attentions=True, output_hidden_states=True``;
  (b)  floor   a plain batched forward of the same ``z = P + x*2`` inputs, in the same
               length-sorted, right-padded batches as (c), eager attention, no reduction;
  (f2) floor   the same forward with the model's fused attention (sdpa);
  (c)  reba    ``reba.Embedder(lm, method="reba", k=2).encode(texts, batch_size=B)``, end to
               end, on its default path: attention columns recomputed from the fused kernel's
               log-sum-exp (``reba.attention.fused``);
  (e)  reba    the same on the eager path (the model's eager attention, probabilities
       eager   folded then dropped layer by layer: reba's path before the fused one).

``mean`` (k=1) and ``echo`` (k=2) through ``reba.Embedder`` are compared with their own floor:
a batched forward of their inputs with sdpa. Long inputs: texts of about 500, 1000 and 2000
tokens (N of about 1,000, 2,000 and 4,000 at k=2), one at a time, f2 / b / c / e interleaved.
All timed measurements run once per round, in the same order, for ``--repeats`` rounds
(b, c, b, c, ... alternate); the table shows medians. The machine may be shared: before each
round the script waits (``--idle-wait``) for other processes to leave the CPU, and a round in
which this process got clearly fewer cores than its torch threads is discarded and run again
(at most 3 x ``--repeats`` rounds); the report says how many rounds were discarded.

Memory: peak resident memory increase at long inputs (``--mem-texts`` texts of about
``--mem-tokens`` tokens, built by concatenating zh_STSB sentences), naive vs Embedder, each in a
fresh subprocess (``--memory-worker naive|reba|floor``) because a process's peak RSS only goes up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import torch
import transformers
from results_md import write_section

import reba
from reba.attention import force_path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
K = 2
TARGET_SHORT = 0.95  # (c) >= 0.95 x (f2) at zh_STSB lengths
TARGET_LONG = 0.85  # (c) >= 0.85 x (f2) at N of about 4,000
TARGET_VS_EAGER = 1.5  # (c) >= 1.5 x (e) at N of about 4,000
LONG_TOKENS = (500, 1000, 2000)  # text tokens: N of about 1,000, 2,000, 4,000 at k=2
MB = 1 << 20


# --- inputs ---------------------------------------------------------------------------------


def load_texts(data: Path, n: int) -> list[str]:
    """Field s1 of the first ``n`` rows of zh_STSB."""
    path = data / "sentence" / "zh_STSB.jsonl"
    texts = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(texts) == n:
                break
            texts.append(json.loads(line)["s1"])
    if len(texts) < n:
        raise SystemExit(f"{path} has only {len(texts)} rows, asked for {n}")
    return texts


def text_ids(lm, text: str) -> list[int]:
    return lm.tokenizer(text, add_special_tokens=False)["input_ids"]


def repeated_inputs(lm, texts: list[str], k: int) -> list[list[int]]:
    """``z = P + x*k`` for every text, in input order."""
    prefix = list(lm.prefix_ids)
    return [prefix + text_ids(lm, t) * k for t in texts]


def length_sorted_batches(inputs: list[list[int]], batch_size: int) -> list[list[list[int]]]:
    """Longest first, then chunks of ``batch_size``: the batches the engine builds for short
    texts (its attention-memory split never triggers at these lengths)."""
    ordered = sorted(inputs, key=len, reverse=True)  # stable, like the engine's sort
    return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]


def long_texts(lm, data: Path, count: int, tokens: int) -> list[str]:
    """``count`` texts of at least ``tokens`` tokens, each a run of consecutive zh_STSB s1
    sentences (different sentences for each text)."""
    path = data / "sentence" / "zh_STSB.jsonl"
    with path.open(encoding="utf-8") as f:
        sentences = iter([json.loads(line)["s1"] for line in f])
    texts = []
    for _ in range(count):
        text = ""
        while len(text_ids(lm, text)) < tokens:
            text += next(sentences)
        texts.append(text)
    return texts


# --- the three ways of computing (and their floors) ------------------------------------------


@contextmanager
def attention(lm, name: str) -> Iterator[None]:
    previous = lm.model.config._attn_implementation
    lm.model.set_attn_implementation(name)
    try:
        yield
    finally:
        lm.model.set_attn_implementation(previous)


@torch.inference_mode()
def naive_reba_one(lm, text: str, k: int = K) -> np.ndarray:
    """ReBA-k sentence mean form as the authors' code does it: keep all attention. Needs eager."""
    x = text_ids(lm, text)
    p, n = len(lm.prefix_ids), len(x)
    z = torch.tensor([list(lm.prefix_ids) + x * k])
    out = lm.model(input_ids=z, output_attentions=True, output_hidden_states=True, use_cache=False)
    attn = torch.stack(out.attentions)[:, 0]  # (L, H, N, N)
    hidden = out.hidden_states[-1][0]  # (N, d), the last layer the model returns
    del out
    s = ((attn + attn.transpose(-1, -2)) / 2).amax(dim=(0, 1))  # (N, N)
    del attn
    u = torch.triu(s)
    w = u[p : p + n].sum(dim=0)  # rows of copy 1
    return (w @ hidden / w.sum()).numpy()


def run_naive(lm, texts: list[str]) -> np.ndarray:
    with attention(lm, "eager"):
        return np.stack([naive_reba_one(lm, t) for t in texts])


@torch.inference_mode()
def run_floor(lm, batches: list[list[list[int]]], implementation: str) -> None:
    """A plain batched forward (right padded, attention mask), nothing kept."""
    with attention(lm, implementation):
        for batch in batches:
            width = max(len(z) for z in batch)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for b, z in enumerate(batch):
                ids[b, : len(z)] = torch.tensor(z)
                mask[b, : len(z)] = 1
            lm.model(input_ids=ids, attention_mask=mask, use_cache=False)


def run_embedder(
    embedder: reba.Embedder, texts: list[str], batch_size: int, path: str | None = None
) -> np.ndarray:
    """``embedder.encode``; ``path`` forces the backward-attention path (fused or eager)."""
    force_path(path)
    try:
        return embedder.encode(texts, batch_size=batch_size, show_progress_bar=False)
    finally:
        force_path(None)


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Timed:
    """One measurement's repeated timings."""

    name: str
    description: str
    texts: int
    seconds: list[float] = field(default_factory=list)
    cores: list[float] = field(default_factory=list)  # process CPU time / wall time

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.texts / self.median


def timed(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall seconds, cores used (process CPU time / wall time) and the result of ``fn()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    wall = time.perf_counter() - wall
    return wall, (time.process_time() - cpu) / wall, result


def contended(cores: float) -> bool:
    """True when this process got clearly less CPU than its threads could use."""
    return cores < 0.85 * torch.get_num_threads()


@dataclass
class Speed:
    measurements: dict[str, Timed]
    agreement: tuple[float, float]  # naive vs reba: max |diff|, min cosine
    waited: float  # seconds spent waiting for other processes to leave the CPU
    discarded: int  # rounds thrown away because another process took CPU


def cpu_busy(seconds: float = 3.0) -> float:
    """Share of all cores busy over ``seconds`` (system-wide, from /proc/stat)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, total

    idle1, total1 = sample()
    time.sleep(seconds)
    idle2, total2 = sample()
    return 1 - (idle2 - idle1) / max(total2 - total1, 1)


def wait_for_idle(limit: float) -> float:
    """Before a measurement, wait (at most ``limit`` s) until the CPU has been idle for ~9 s,
    so another process does not skew it. Returns the seconds waited."""
    start, quiet = time.perf_counter(), 0
    while limit > 0 and quiet < 3 and time.perf_counter() - start < limit:
        quiet = quiet + 1 if cpu_busy() < 0.15 else 0
    waited = time.perf_counter() - start
    if limit > 0 and quiet < 3:
        log(f"warning: the CPU is still busy after waiting {waited:.0f} s; measuring anyway")
    elif waited > 15:
        log(f"waited {waited:.0f} s for an idle CPU")
    return waited


def measure_speed(lm, texts: list[str], batch_size: int, repeats: int, idle: float) -> Speed:
    embedders = {
        "reba": reba.Embedder(lm, method="reba", k=K),
        "mean": reba.Embedder(lm, method="mean"),
        "echo": reba.Embedder(lm, method="echo", k=K),
    }
    k2 = length_sorted_batches(repeated_inputs(lm, texts, K), batch_size)
    k1 = length_sorted_batches(repeated_inputs(lm, texts, 1), batch_size)
    n = len(texts)
    steps: list[tuple[Timed, Callable[[], object]]] = [
        (Timed("a", "naive ReBA-2, one text at a time, all attentions kept", n),
         lambda: run_naive(lm, texts)),
        (Timed("b", "floor: batched forward, k=2 inputs, eager", n),
         lambda: run_floor(lm, k2, "eager")),
        (Timed("f2", "floor: batched forward, k=2 inputs, sdpa", n),
         lambda: run_floor(lm, k2, "sdpa")),
        (Timed("c", "Embedder reba k=2 (fused path)", n),
         lambda: run_embedder(embedders["reba"], texts, batch_size, "fused")),
        (Timed("e", "Embedder reba k=2 (eager path)", n),
         lambda: run_embedder(embedders["reba"], texts, batch_size, "eager")),
        (Timed("f1", "floor: batched forward, k=1 inputs, sdpa", n),
         lambda: run_floor(lm, k1, "sdpa")),
        (Timed("mean", "Embedder mean k=1", n),
         lambda: run_embedder(embedders["mean"], texts, batch_size)),
        (Timed("echo", "Embedder echo k=2", n),
         lambda: run_embedder(embedders["echo"], texts, batch_size)),
    ]  # fmt: skip
    warm_up(lm, embedders, texts[:4], batch_size)
    return measure(steps, repeats, idle, compare=("a", "c"))


def measure_long(lm, data: Path, repeats: int, idle: float, lengths=LONG_TOKENS) -> Speed:
    """One text each of about ``lengths`` tokens (k=2: N = 2n + p), alone in its batch."""
    embedder = reba.Embedder(lm, method="reba", k=K)
    steps: list[tuple[Timed, Callable[[], object]]] = []
    texts = long_text_set(lm, data, lengths)
    for text in texts:
        z = [repeated_inputs(lm, [text], K)]
        n = f"N={len(z[0][0])}"

        def floor(z=z, implementation="sdpa"):
            return run_floor(lm, z, implementation)

        def ours(text=text, path="fused"):
            return run_embedder(embedder, [text], 1, path)

        steps += [
            (Timed(f"f2 {n}", f"floor: forward, sdpa, {n}", 1), floor),
            (
                Timed(f"b {n}", f"floor: forward, eager, {n}", 1),
                partial(floor, implementation="eager"),
            ),
            (Timed(f"c {n}", f"Embedder reba k=2, fused path, {n}", 1), ours),
            (
                Timed(f"e {n}", f"Embedder reba k=2, eager path, {n}", 1),
                partial(ours, path="eager"),
            ),
        ]
    run_embedder(embedder, [texts[0][:200]], 1)  # warm-up
    return measure(steps, repeats, idle, compare=None)


def long_text_set(lm, data: Path, lengths=LONG_TOKENS) -> list[str]:
    """One text of at least each of ``lengths`` tokens, from consecutive zh_STSB sentences."""
    return [long_texts(lm, data, 1, tokens)[0] for tokens in lengths]


def measure(steps, repeats: int, idle: float, compare: tuple[str, str] | None) -> Speed:
    """Run every step once per round, ``repeats`` clean rounds (see the module doc)."""
    waited, clean, noisy = 0.0, [], []
    while len(clean) < repeats and len(clean) + len(noisy) < 3 * repeats:
        waited += wait_for_idle(idle)
        runs = {m.name: timed(fn) for m, fn in steps}
        number = len(clean) + len(noisy) + 1
        for name, (seconds, cores, _) in runs.items():
            log(f"round {number} {name:>10}: {seconds:7.2f} s ({cores:.2f} cores)")
        if any(contended(cores) for _, cores, _ in runs.values()):
            log("round discarded: another process took CPU")
            noisy.append(runs)
        else:
            clean.append(runs)
    kept = clean or noisy  # with no clean round at all, report the noisy ones (flagged)
    for measurement, _ in steps:
        for runs in kept:
            seconds, cores, _ = runs[measurement.name]
            measurement.seconds.append(seconds)
            measurement.cores.append(cores)
    match = agreement(kept[-1][compare[0]][2], kept[-1][compare[1]][2]) if compare else (0, 1)
    discarded = len(noisy) if clean else 0
    return Speed({m.name: m for m, _ in steps}, match, waited, discarded)


def warm_up(lm, embedders: dict[str, reba.Embedder], texts: list[str], batch_size: int) -> None:
    """One small batch through every path, untimed."""
    run_naive(lm, texts[:1])
    batch = length_sorted_batches(repeated_inputs(lm, texts, K), batch_size)
    run_floor(lm, batch, "eager")
    run_floor(lm, batch, "sdpa")
    for embedder in embedders.values():
        run_embedder(embedder, texts, batch_size)


def agreement(naive: np.ndarray, batched: np.ndarray) -> tuple[float, float]:
    cosine = (naive * batched).sum(1) / (
        np.linalg.norm(naive, axis=1) * np.linalg.norm(batched, axis=1)
    )
    return float(np.abs(naive - batched).max()), float(cosine.min())


# --- memory ---------------------------------------------------------------------------------


def memory_status() -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of this process, in kB."""
    status = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                status[line.split(":")[0]] = int(line.split()[1])
    return status


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs``); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_worker(args: argparse.Namespace) -> None:
    """Run in a fresh process: peak RSS increase of one way of embedding long texts (JSON).

    ``ru_maxrss`` of a child process starts at its *parent's* peak (Linux carries the old
    address space's high-water mark across exec), so it would hide any work that peaks below
    the parent. The increase is therefore taken from this process's own high-water mark
    (VmHWM), reset after model load and warm-up; ``ru_maxrss`` is reported alongside.
    """
    lm = reba.load_model(args.model)
    texts = long_texts(lm, args.data, args.mem_texts, args.mem_tokens)
    short = load_texts(args.data, 2)
    embedder = reba.Embedder(lm, method="reba", k=K)
    if args.memory_worker == "naive":
        run_naive(lm, short)  # warm up on short texts only: the peak must come from the work

        def work() -> None:
            run_naive(lm, texts)
    elif args.memory_worker in ("reba", "eager"):
        path = "fused" if args.memory_worker == "reba" else "eager"
        run_embedder(embedder, short, args.mem_batch_size, path)

        def work() -> None:
            run_embedder(embedder, texts, args.mem_batch_size, path)
    else:  # the floor: a plain sdpa forward of the same inputs, nothing kept
        batches = length_sorted_batches(repeated_inputs(lm, texts, K), args.mem_batch_size)
        run_floor(lm, length_sorted_batches(repeated_inputs(lm, short, K), 1), "sdpa")

        def work() -> None:
            run_floor(lm, batches, "sdpa")

    was_reset = reset_peak()
    before, ru_before = memory_status(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, start = time.process_time(), time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    cores = (time.process_time() - cpu) / seconds
    after, ru_after = memory_status(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    baseline = before["VmRSS"] if was_reset else before["VmHWM"]
    lengths = [len(text_ids(lm, t)) for t in texts]
    print(json.dumps({
        "kind": args.memory_worker,
        "rss_before_mb": before["VmRSS"] / 1024,
        "peak_after_mb": after["VmHWM"] / 1024,
        "increase_mb": (after["VmHWM"] - baseline) / 1024,
        "peak_was_reset": was_reset,
        "ru_maxrss_before_mb": ru_before / 1024,
        "ru_maxrss_after_mb": ru_after / 1024,
        "seconds_per_text": seconds / len(texts),
        "cores_used": cores,
        "text_tokens": lengths,
        "layers": lm.num_layers,
        "heads": int(lm.model.config.num_attention_heads),
        "head_dim": head_dim(lm),
        "prefix": len(lm.prefix_ids),
    }))  # fmt: skip


def head_dim(lm) -> int:
    config = lm.model.config
    return int(getattr(config, "head_dim", 0) or lm.dimension // config.num_attention_heads)


def measure_memory(args: argparse.Namespace) -> dict[str, dict]:
    results = {}
    kinds = ("floor", "reba", "eager") + (("naive",) if args.naive_memory else ())
    for kind in kinds:
        command = [
            sys.executable, str(Path(__file__).resolve()), "--memory-worker", kind,
            "--data", str(args.data), "--model", args.model,
            "--mem-texts", str(args.mem_texts), "--mem-tokens", str(args.mem_tokens),
            "--mem-batch-size", str(args.mem_batch_size),
        ]  # fmt: skip
        waited = wait_for_idle(args.idle_wait)
        log(f"memory: {kind} in a fresh process ...")
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-5:]
            results[kind] = {"error": f"exit {done.returncode}: " + " | ".join(tail)}
        else:
            results[kind] = json.loads(done.stdout.strip().splitlines()[-1])
            results[kind]["waited_s"] = waited
        log(f"memory: {kind}: {results[kind]}")
    return results


def theoretical_attention_mb(info: dict) -> tuple[float, float, int, int]:
    """Attention kept per text: naive L*H*N*N float32, reba N*n float32 (columns of copy 1)."""
    n = max(info["text_tokens"])
    big_n = info["prefix"] + K * n
    naive = info["layers"] * info["heads"] * big_n * big_n * 4 / MB
    kept = big_n * n * 4 / MB
    return naive, kept, n, big_n


# --- report ---------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "FAIL"


def speed_lines(speed: Speed) -> list[str]:
    m = speed.measurements
    rows = _timing_table(m)
    rate = {name: t.rate for name, t in m.items()}
    c_vs_f2 = rate["c"] / rate["f2"]
    rows += [
        "",
        "| ratio | value | target | result |",
        "|---|---:|---:|---|",
        f"| (c) reba fused / (f2) sdpa forward | {c_vs_f2:.3f} | >= {TARGET_SHORT} "
        f"| {verdict(c_vs_f2, TARGET_SHORT)} |",
        f"| (c) reba fused / (b) eager forward | {rate['c'] / rate['b']:.3f} | - | info |",
        f"| (c) reba fused / (e) reba eager path | {rate['c'] / rate['e']:.3f} | - | info |",
        f"| (c) reba fused / (a) naive | {rate['c'] / rate['a']:.2f} | - | info |",
        f"| mean / own floor (k=1, sdpa) | {rate['mean'] / rate['f1']:.3f} | - | info |",
        f"| echo / own floor (k=2, sdpa) | {rate['echo'] / rate['f2']:.3f} | - | info |",
        f"| (b) eager floor / (f2) sdpa floor, k=2 | {rate['b'] / rate['f2']:.3f} | - | info |",
        "",
        f"Naive (a) vs Embedder (c) embeddings: max |diff| = {speed.agreement[0]:.2e}, "
        f"min cosine = {speed.agreement[1]:.6f}.",
    ]
    return rows


def long_lines(speed: Speed) -> list[str]:
    m = speed.measurements
    rows = _timing_table(m)
    rows += [
        "",
        "| N | (c)/(f2) | target | (c)/(e) | target | (c)/(b) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    sizes = [name.split()[1] for name in m if name.startswith("c ")]
    for n in sizes:
        c, f2, e, b = (m[f"{x} {n}"].rate for x in ("c", "f2", "e", "b"))
        last = n == sizes[-1]
        target_f2 = f">= {TARGET_LONG}: {verdict(c / f2, TARGET_LONG)}" if last else "-"
        target_e = f">= {TARGET_VS_EAGER}: {verdict(c / e, TARGET_VS_EAGER)}" if last else "-"
        rows.append(
            f"| {n.removeprefix('N=')} | {c / f2:.3f} | {target_f2} | {c / e:.2f} | {target_e} "
            f"| {c / b:.2f} |"
        )
    return rows


def _timing_table(measurements: dict[str, Timed]) -> list[str]:
    rows = [
        "| | measurement | texts/s | median s | runs (s) | cores used |",
        "|---|---|---:|---:|---|---:|",
    ]
    for t in measurements.values():
        runs = ", ".join(f"{s:.2f}" for s in t.seconds)
        rows.append(
            f"| {t.name} | {t.description} | {t.rate:.2f} | {t.median:.2f} | {runs} "
            f"| {statistics.median(t.cores):.2f} |"
        )
    return rows


def memory_lines(memory: dict[str, dict], batch_size: int) -> list[str]:
    if any("error" in r for r in memory.values()):
        return [f"- {kind}: {r.get('error', 'ok')}" for kind, r in memory.items()]
    ours, eager, floor = memory["reba"], memory["eager"], memory["floor"]
    _, kept, n, big_n = theoretical_attention_mb(ours)
    workspace = block_workspace_mb(ours, n, big_n)
    bound = 2 * kept + workspace
    above = ours["increase_mb"] - floor["increase_mb"]
    rows = [
        f"{len(ours['text_tokens'])} texts of {ours['text_tokens']} tokens "
        f"(k={K}: N = {big_n} for the longest), batch size {batch_size}; each row in a fresh "
        "process; peak RSS increase = the process's peak RSS (VmHWM) during the work - its RSS "
        "after model load and a short warm-up (peak reset there).",
        "",
        "| | peak RSS increase (MB) | s / text | cores used | attention kept / text, theory |",
        "|---|---:|---:|---:|---:|",
        memory_row("(f2) floor: sdpa forward", floor, "0"),
        memory_row("(c) Embedder reba, fused path", ours, f"{kept:.1f} MB (N*n*4 B)"),
        memory_row("(e) Embedder reba, eager path", eager, f"{kept:.1f} MB (N*n*4 B)"),
    ]
    if "naive" in memory:
        theory_naive = theoretical_attention_mb(memory["naive"])[0]
        rows.append(memory_row("(a) naive", memory["naive"], f"{theory_naive:.0f} MB"))
    rows += [
        "",
        f"(c) above the sdpa floor: {above:.0f} MB; bound: twice the kept-column store "
        f"({2 * kept:.1f} MB) + one query block's workspace ({workspace:.1f} MB) = "
        f"{bound:.1f} MB: {'PASS' if above <= bound else 'FAIL'}. (e) above the floor: "
        f"{eager['increase_mb'] - floor['increase_mb']:.0f} MB. RSS after load: "
        f"{ours['rss_before_mb']:.0f} MB.",
    ]
    return rows


def block_workspace_mb(info: dict, n: int, big_n: int) -> float:
    """One block of query rows on the fused path: the kept columns' probabilities for every
    head, the block's mask (boolean and additive) and its kernel output and log-sum-exp."""
    block = min(512, big_n)
    heads, dim = info["heads"], info.get("head_dim", 256)
    floats = block * (heads * n + 2 * big_n + heads * (dim + 1)) + heads * n * dim
    return (floats * 4 + block * big_n) / MB


def memory_row(label: str, info: dict, theory: str) -> str:
    return (
        f"| {label} | {info['increase_mb']:.0f} | {info['seconds_per_text']:.1f} "
        f"| {info['cores_used']:.2f} | {theory} |"
    )


def ratio(top: dict, bottom: dict) -> float:
    return top["increase_mb"] / max(bottom["increase_mb"], 1e-9)


def ru_span(info: dict) -> str:
    return f"{info['ru_maxrss_before_mb']:.0f} -> {info['ru_maxrss_after_mb']:.0f}"


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} CPU cores ({model}), torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), transformers {transformers.__version__}, "
        f"Python {platform.python_version()}"
    )


def markdown(args, speed: Speed, long: Speed | None, memory: dict | None, loads: tuple) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## bench_core: {when}",
        "",
        f"- Machine: {machine()}",
        f"- Command: `{command_line()}`",
        f"- Load average (1 min) at start / end: {loads[0]:.2f} / {loads[1]:.2f}",
        f"- {contention(speed, memory)}",
        f"- Texts: s1 of the first {args.n} rows of zh_STSB; model {args.model} (float32, "
        f"loaded once); batch size {args.batch_size}; median of "
        f"{len(speed.measurements['a'].seconds)} rounds "
        "(each round runs a, b, f2, c, e, f1, mean, echo in that order, after one warm-up).",
        "",
        "### Throughput at zh_STSB lengths",
        "",
        *speed_lines(speed),
    ]
    if long is not None:
        lines += [
            "",
            "### Long inputs",
            "",
            "One text at a time (consecutive zh_STSB sentences), k=2; each round runs f2, b, c, "
            f"e per length, shortest first; median of {rounds(long)} rounds; "
            f"{long.discarded} round(s) discarded for contention.",
            "",
            *long_lines(long),
        ]
    if memory is not None:
        lines += ["", "### Peak memory at long inputs", ""]
        lines += memory_lines(memory, args.mem_batch_size)
    return "\n".join(lines) + "\n"


def rounds(speed: Speed) -> int:
    return len(next(iter(speed.measurements.values())).seconds)


def contention(speed: Speed, memory: dict | None) -> str:
    """Whether other processes competed for the CPU while we measured."""
    threads = torch.get_num_threads()
    cores = [c for t in speed.measurements.values() for c in t.cores]
    if memory:
        cores += [r["cores_used"] for r in memory.values() if "cores_used" in r]
    waited = speed.waited + sum(r.get("waited_s", 0) for r in (memory or {}).values())
    verdict = "OK" if min(cores) >= 0.85 * threads else "NOISY: another process took CPU"
    return (
        f"CPU check: waited {waited:.0f} s in total for an idle CPU before rounds; "
        f"{speed.discarded} round(s) discarded because another process took CPU; "
        f"cores used per run (CPU time / wall time) {min(cores):.2f}..{max(cores):.2f} "
        f"of {threads} threads: {verdict}"
    )


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return shlex.join(["python", str(shown), *sys.argv[1:]])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, default=None, help="texts (default 256; 32 if --quick)")
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=None, help="rounds (3; 1 if --quick)")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--mem-texts", type=int, default=None, help="long texts (4; 2 quick)")
    parser.add_argument("--mem-tokens", type=int, default=None, help="tokens each (2000; 300)")
    parser.add_argument("--mem-batch-size", type=int, default=1)
    parser.add_argument(
        "--idle-wait",
        type=float,
        default=None,
        help="before each round and memory run, wait up to this many seconds for an idle CPU "
        "(600; 30 if --quick; 0: don't wait)",
    )
    parser.add_argument("--write", type=Path, help="append a Markdown section to this file")
    parser.add_argument(
        "--naive-memory", action="store_true", help="also measure the naive path's memory (~14 GB)"
    )
    parser.add_argument("--no-long", action="store_true", help="skip the long-input timings")
    parser.add_argument(
        "--long-tokens",
        type=lambda v: tuple(int(t) for t in v.split(",")),
        default=LONG_TOKENS,
        help="text tokens of the long inputs, comma-separated (500,1000,2000: N = 2n at k=2)",
    )
    parser.add_argument(
        "--memory-worker", choices=("naive", "reba", "eager", "floor"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    defaults = {  # full run, --quick
        "n": (256, 32),
        "repeats": (3, 1),
        "mem_texts": (4, 2),
        "mem_tokens": (2000, 300),
        "idle_wait": (600, 30),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.memory_worker:
        memory_worker(args)
        return
    load_start = os.getloadavg()[0]
    log(f"load average at start: {os.getloadavg()}")
    lm = reba.load_model(args.model)
    texts = load_texts(args.data, args.n)
    speed = measure_speed(lm, texts, args.batch_size, args.repeats, args.idle_wait)
    long = (
        None
        if args.no_long
        else measure_long(lm, args.data, args.repeats, args.idle_wait, args.long_tokens)
    )
    del lm
    memory = None if args.no_memory else measure_memory(args)
    loads = (load_start, os.getloadavg()[0])
    section = markdown(args, speed, long, memory, loads)
    print(section)
    if args.write:
        write_section(args.write, section)
        log(f"appended to {args.write}")


if __name__ == "__main__":
    main()
