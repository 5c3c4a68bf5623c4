"""``reba embed``: parse the options, run the chosen engine, print its summary."""

from __future__ import annotations

import argparse

from reba.cli.options import add_model_options, config_from_args
from reba.runners.job import EmbedJob

HELP = "embed the texts (or words in context) of .txt/.jsonl/.csv/.parquet files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        "-i",
        required=True,
        help="a file, a folder or a glob of .txt/.jsonl/.csv/.parquet files (local, or a URI "
        "such as s3://bucket/corpus/)",
    )
    parser.add_argument(
        "--output",
        "-o",
        required=True,
        help="a .npy, .jsonl or .parquet file, or a folder (no suffix, or ending in /): Parquet "
        "parts written as each range of rows is done; re-running the same command resumes",
    )
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
        help="several short texts per model row instead of padding (faster on unsorted batches; "
        "equal to float32 rounding)",
    )
    parser.add_argument(
        "--shard-rows",
        type=int,
        default=10000,
        help="folder outputs: rows of each input file per part, the unit of resuming and of "
        "the ray engine's work (default: 10000)",
    )
    add_model_options(parser)
    _add_ray_arguments(parser)


def _add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    ray = parser.add_argument_group(
        "engine", "--engine ray: Ray Data reads, embeds and writes on the workers of a cluster"
    )
    ray.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a Ray actor pool, --output is a folder",
    )
    ray.add_argument("--num-actors", type=int, default=2, help="ray: model replicas (default: 2)")
    ray.add_argument(
        "--cpus-per-actor",
        type=float,
        default=None,
        help="ray: CPUs per actor, also its torch threads (default: a local Ray's CPUs shared "
        "out, else 1)",
    )
    ray.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        help="ray: GPUs per actor, fractions allowed (e.g. 0.5: two actors per GPU); an actor "
        "with a GPU runs on cuda (default: 0)",
    )
    ray.add_argument(
        "--address",
        default=None,
        help="ray: join this Ray cluster (e.g. auto, ray://head:10001); default: start one here",
    )


def job_from_args(args: argparse.Namespace) -> EmbedJob:
    return EmbedJob(
        input=args.input,
        output=args.output,
        config=config_from_args(args),
        device=args.device,
        batch_size=args.batch_size,
        normalize=args.normalize,
        packing=args.packing,
        field=args.field,
        id_field=args.id_field,
        word_field=args.word_field,
        span_field=args.span_field,
        shard_rows=args.shard_rows,
        quiet=args.quiet,
    )


def run(args: argparse.Namespace) -> int:
    job = job_from_args(args)
    if args.engine == "ray":
        from reba.runners.ray import RayOptions, run_ray  # Ray is imported only here

        options = RayOptions(
            num_actors=args.num_actors,
            cpus_per_actor=args.cpus_per_actor,
            gpus_per_actor=args.gpus_per_actor,
            address=args.address,
        )
        summary = run_ray(job, options)
    else:
        from reba.runners.local import run_local

        summary = run_local(job)
    summary.print()
    return summary.exit_code
