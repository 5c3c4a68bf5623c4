"""``reba embed``: embed every row of a file and write the vectors with their configuration."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reba.cli.options import add_model_options, make_embedder
from reba.io import InputRecords, read_inputs, write_embeddings

HELP = "embed the texts (or words in context) of a .txt/.jsonl/.csv/.parquet file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", "-i", required=True, help="one text per line, or a table")
    parser.add_argument("--output", "-o", required=True, help=".npy, .jsonl or .parquet")
    parser.add_argument("--field", default="text", help="text column of a table (default: text)")
    parser.add_argument("--id-field", default="id", help="id column kept in the output")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--word-field", help="word level: column holding the target word")
    target.add_argument("--span-field", help="word level: column holding [start, end]")
    parser.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--packing",
        action="store_true",
        help="several short texts per model row instead of padding (faster on unsorted batches, "
        "e.g. the ray engine's; equal to float32 rounding)",
    )
    add_model_options(parser)
    ray = parser.add_argument_group(
        "engine", "--engine ray: a Ray Data actor pool writing a folder of Parquet shards"
    )
    ray.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: one process (default); ray: Ray Data, --output is a folder, resumable",
    )
    ray.add_argument(
        "--num-actors", type=int, default=2, help="ray: model replicas (actors) (default: 2)"
    )
    ray.add_argument(
        "--cpus-per-actor",
        type=int,
        default=None,
        help="ray: CPUs (torch threads) per actor (default: a local Ray's CPUs shared out, else 1)",
    )
    ray.add_argument(
        "--address",
        default=None,
        help="ray: join this Ray cluster (e.g. auto, ray://host:10001); default: start one here",
    )
    ray.add_argument(
        "--shard-rows",
        type=int,
        default=10000,
        help="ray: input rows per output shard; done shards are skipped on re-runs "
        "(default: 10000)",
    )


def run(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        from reba.ray_engine import run_ray  # imports Ray lazily: not needed for local runs

        return run_ray(args)
    records, level = read_records(args)
    embedder = make_embedder(args)
    start = time.perf_counter()
    result = embedder.embed(
        records.items,
        level=level,
        batch_size=args.batch_size,
        normalize=args.normalize,
        show_progress_bar=not args.quiet,
        packing=args.packing,
    )
    seconds = time.perf_counter() - start
    failures = [{"row": row, "reason": reason} for row, reason in records.problems.items()]
    failures += [{"row": records.rows[f.index], "reason": f.reason} for f in result.failures]
    failures.sort(key=lambda f: f["row"])
    rows = [records.rows[i] for i in result.indices]
    ids = [records.ids[i] for i in result.indices] if records.ids is not None else None
    files = write_embeddings(
        args.output,
        result.embeddings,
        rows=rows,
        ids=ids,
        config={**embedder.describe(), "level": level, "input": str(Path(args.input).resolve())},
        failures=failures,
    )
    _summary(
        len(records.rows) + len(records.problems),
        len(rows),
        len(result.truncated),
        failures,
        seconds,
        files,
    )
    return 0 if rows or not failures else 1


def read_records(args: argparse.Namespace) -> tuple[InputRecords, str]:
    """The input file's rows, and the level they are embedded at (word if a target is named)."""
    records = read_inputs(
        args.input,
        field=args.field,
        id_field=args.id_field,
        word_field=args.word_field,
        span_field=args.span_field,
    )
    return records, "word" if (args.word_field or args.span_field) else "sentence"


def print_skipped(failures: list[dict], listed_in: str, shown: int = 20) -> None:
    """The first skipped rows and their reasons, on stderr; the rest are in ``listed_in``."""
    for f in failures[:shown]:
        print(f"  skipped row {f['row']}: {f['reason']}", file=sys.stderr)
    if len(failures) > shown:
        print(f"  ... and {len(failures) - shown} more (listed in {listed_in})", file=sys.stderr)


def _summary(total, written, truncated, failures, seconds, files) -> None:
    out = sys.stderr
    print_skipped(failures, "the output's metadata")
    rate = written / seconds if seconds > 0 else float("inf")
    print(
        f"reba embed: {total} items, {written} embedded, {truncated} truncated, "
        f"{len(failures)} failed, {seconds:.1f} s, {rate:.1f} texts/s -> "
        + ", ".join(map(str, files)),
        file=out,
    )
