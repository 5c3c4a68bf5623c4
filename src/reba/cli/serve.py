"""``reba serve``: an HTTP embedding service with an OpenAI-compatible ``/v1/embeddings``.

    reba serve --model gemma-3-270m --method reba -k 2            # served as gemma-3-270m-reba-k2
    reba serve --serve zh=gemma-3-270m:reba:2 --serve smollm2-135m:mean --port 8001

Each configuration is served under a name that requests give as ``model``. ``--model/--method/
-k`` make one (named ``<model>-<method>-k<k>``, or ``--name``); ``--serve [NAME=]MODEL[:METHOD
[:K]]`` adds more (METHOD defaults to reba, K to the method's default). With ``--serve`` and no
``--model``, only the ``--serve`` configurations are served. See ``reba.serve`` for the API.
"""

from __future__ import annotations

import argparse
import os
import sys

from reba.cli.options import add_model_options
from reba.models import DEFAULT_MODEL

HELP = "serve embeddings over HTTP (OpenAI-compatible /v1/embeddings, /v1/models, /health)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.set_defaults(model=None)  # to tell an explicit --model from the default
    parser.add_argument(
        "--name",
        help="served name of the --model configuration (default: e.g. gemma-3-270m-reba-k2)",
    )
    parser.add_argument(
        "--serve",
        action="append",
        default=[],
        metavar="[NAME=]MODEL[:METHOD[:K]]",
        help="serve this configuration too (repeatable; e.g. zh=gemma-3-270m:reba:2). With "
        "--serve, the --model configuration is served only if --model is given. A model "
        "named twice is loaded once; --layer, --include-prefix, --max-length, --device and "
        "--dtype apply to all; METHOD may be a combination such as pcot+reba or ke+cp[alpha=2]",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=50.0,
        help="longest wait for other requests to share a model batch; only when some are "
        "expected, i.e. clients just answered (default: 50)",
    )
    parser.add_argument(
        "--max-batch-items",
        type=int,
        default=128,
        help="texts per model batch; a larger request runs alone (default: 128)",
    )
    parser.add_argument(
        "--no-packing",
        dest="packing",
        action="store_false",
        help="pad each text to its batch's longest instead of packing several short texts "
        "into one model row (packing: faster, same results to float32 rounding)",
    )
    parser.add_argument(
        "--max-items", type=int, default=2048, help="texts per request (default: 2048)"
    )
    parser.add_argument(
        "--max-chars", type=int, default=8192, help="characters per text (default: 8192)"
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=1024,
        help="requests waiting per configuration; more get 429 (default: 1024)",
    )
    parser.add_argument(
        "--normalize", action="store_true", help="L2-normalise every returned embedding"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default: info)",
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log each request (uvicorn)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        from reba.serve import ServeSettings, build_embedders, create_app, run_server
        from reba.serve.configs import ServedConfig, parse_serve_spec
    except ImportError as err:
        raise ImportError(f"{err}; install the server with: pip install 'reba[serve]'") from err
    for name in ("max_items", "max_chars", "max_queue", "max_batch_items", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.max_wait_ms < 0:
        raise ValueError("--max-wait-ms must be >= 0")
    specs = [parse_serve_spec(spec) for spec in args.serve]
    if args.model is not None or not specs:
        main = ServedConfig(args.model or DEFAULT_MODEL, args.method, args.k, args.name)
        specs.insert(0, main)
    elif args.name:
        raise ValueError("--name names the --model configuration; with --serve use NAME=...")
    configs = build_embedders(
        specs,
        device=args.device,
        dtype=args.dtype,
        layer=args.layer,
        include_prefix=args.include_prefix,
        preprocess=args.preprocess,
        max_length=args.max_length,
    )
    settings = ServeSettings(
        max_items=args.max_items,
        max_chars=args.max_chars,
        max_queue=args.max_queue,
        max_wait_ms=args.max_wait_ms,
        max_batch_items=args.max_batch_items,
        batch_size=args.batch_size,
        packing=args.packing,
        normalize=args.normalize,
    )
    for name, embedder in configs.items():
        print(f"reba serve: {name} = {embedder!r}, dimension {embedder.dimension}", flush=True)
    run_server(
        create_app(configs, settings=settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )
    return 0


def restart_with_passive_threads() -> None:
    """Re-execute this process with ``OMP_WAIT_POLICY=PASSIVE`` unless the variable is set.

    Spinning OpenMP workers take CPU from the event loop (and, on one machine, from the
    clients): with ``OMP_WAIT_POLICY=ACTIVE`` bench_serve measured 0.37 of direct throughput
    against about 0.6 with PASSIVE (padded batches, 2026-11-22; not in benchmarks/RESULTS.md).
    libgomp's default, a short spin, was within run-to-run noise of PASSIVE. libgomp reads the
    setting only at start-up, hence the restart.
    """
    if "OMP_WAIT_POLICY" in os.environ:
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    os.execve(sys.executable, [sys.executable, "-m", "reba.cli.main", *sys.argv[1:]], env)
