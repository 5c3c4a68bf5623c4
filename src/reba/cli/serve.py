"""``reba serve``: an HTTP embedding service, OpenAI- and TEI-compatible.

    reba serve --model gemma-3-270m --method reba -k 2            # served as gemma-3-270m-reba-k2
    reba serve --serve zh=gemma-3-270m:reba:2 --serve smollm2-135m:mean --port 8001
    REBA_API_KEY=... reba serve --host 0.0.0.0                     # keys: see reba.serve.auth

    reba serve --config best.json --config zh=zh.json                # saved configurations

Each configuration is served under a name that requests give as ``model``. ``--model/--method/
-k`` make one (named ``<model>-<method>-k<k>``, or ``--name``); ``--serve [NAME=]MODEL[:METHOD
[:K]]`` adds more (METHOD defaults to reba, K to the method's default; --layer, --dtype, ...
apply to these), and ``--config [NAME=]FILE`` adds a saved configuration, served as written.
With ``--serve`` or ``--config`` and no ``--model``, only those are served. See ``reba.serve``
for the API.
"""

from __future__ import annotations

import argparse
import os
import sys

from reba.cli.options import add_model_options, given_flags
from reba.config import EmbedderConfig

HELP = "serve embeddings over HTTP (OpenAI- and TEI-compatible, API keys, Prometheus metrics)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser, config_file=False)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="[NAME=]FILE",
        help="serve a saved configuration as written (repeatable, one per served name; e.g. "
        "--config best.json --config zh=zh.json); the configuration flags do not apply to it",
    )
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
        "--max-body-bytes",
        type=int,
        default=4 * 1024 * 1024,
        help="request body size, checked while it is read; more gets 413 (default: 4194304, 4 MiB)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=60.0,
        help="seconds a request may take from its texts being checked to its answer; later it "
        "gets 503 and its queued work is dropped; 0: no deadline (default: 60)",
    )
    parser.add_argument(
        "--root-path",
        default="",
        metavar="PREFIX",
        help="the path prefix a reverse proxy serves reba under and strips (e.g. /embeddings); "
        "links in /docs use it; keys hold on every route either way",
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
    security = parser.add_argument_group(
        "security",
        "API keys: every route then needs 'Authorization: Bearer KEY' but /health, /docs, "
        "/redoc and /openapi.json (and /metrics with --public-metrics)",
    )
    security.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="accept this key (repeatable); also read from $REBA_API_KEY (comma-separated)",
    )
    security.add_argument(
        "--api-key-file", metavar="FILE", help="accept the keys of FILE, one a line"
    )
    security.add_argument(
        "--public-metrics",
        action="store_true",
        help="serve /metrics without a key even when keys are set",
    )
    parser.add_argument(
        "--playground",
        action="store_true",
        help="serve a page at /playground to try the configurations: similarity matrix and "
        "each token's weight (it uses /v1/models, /v1/embeddings and /v1/explain with the key "
        "typed into it)",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="a named prompt for TEI's prompt_name (put before the text; repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    from reba.cli.deps import require

    require("serve", "reba serve")
    from reba.serve import ServeSettings, build_embedders, create_app, run_server
    from reba.serve.auth import load_api_keys

    keys = load_api_keys(args.api_key, args.api_key_file)  # bad keys fail before loading models
    prompts = parse_prompts(args.prompt)
    limits = ("max_items", "max_chars", "max_queue", "max_batch_items", "batch_size")
    for name in (*limits, "max_body_bytes"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.max_wait_ms < 0 or args.request_timeout < 0:
        raise ValueError("--max-wait-ms and --request-timeout must be >= 0")
    if args.root_path and (not args.root_path.startswith("/") or args.root_path.endswith("/")):
        raise ValueError(f"--root-path must start and not end with '/', got {args.root_path!r}")
    specs = served_configs(args)
    configs = build_embedders(specs, device=args.device)
    settings = ServeSettings(
        max_items=args.max_items,
        max_chars=args.max_chars,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        request_timeout=args.request_timeout or None,
        max_wait_ms=args.max_wait_ms,
        max_batch_items=args.max_batch_items,
        batch_size=args.batch_size,
        packing=args.packing,
        normalize=args.normalize,
        api_keys=keys,
        public_metrics=args.public_metrics,
        prompts=prompts,
        playground=args.playground,
    )
    for name, embedder in configs.items():
        print(f"reba serve: {name} = {embedder!r}, dimension {embedder.dimension}", flush=True)
    print(security_notice(args.host, args.port, len(keys)), file=sys.stderr, flush=True)
    if args.playground:
        print(f"reba serve: playground at http://{args.host}:{args.port}/playground", flush=True)
    run_server(
        create_app(configs, settings=settings),
        host=args.host,
        port=args.port,
        root_path=args.root_path,
        log_level=args.log_level,
        access_log=not args.no_access_log,
    )
    return 0


def served_configs(args: argparse.Namespace) -> list:
    """The --model configuration (if given, or if nothing else is), then --serve's, then
    --config's."""
    from reba.serve.configs import ServedConfig, parse_config_spec, parse_serve_spec

    flags = given_flags(args)
    defaults = EmbedderConfig(**flags)
    specs = [parse_serve_spec(spec, defaults) for spec in args.serve]
    files = [parse_config_spec(spec) for spec in args.config]
    if args.model is not None or not (specs or files):
        specs.insert(0, ServedConfig(defaults, args.name))
    elif args.name:
        raise ValueError("--name names the --model configuration; with --serve use NAME=...")
    elif flags and not specs:
        raise ValueError(
            f"{', '.join(flags)}: configuration flags apply to --model and --serve "
            "configurations; a --config file is served as written (edit the file instead)"
        )
    return specs + files


def parse_prompts(specs: list[str]) -> dict[str, str]:
    """``NAME=TEXT`` specs -> ``{NAME: TEXT}`` (TEXT may be empty or contain '=')."""
    prompts = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--prompt {spec!r}: expected NAME=TEXT, e.g. query='query: '")
        prompts[name.strip()] = text
    return prompts


def security_notice(host: str, port: int, n_keys: int) -> str:
    """What start-up says about who can use the server."""
    if n_keys:
        return (
            f"reba serve: {n_keys} API key{'s' if n_keys > 1 else ''} required on every route "
            "(Authorization: Bearer KEY) but /health, /docs, /redoc and /openapi.json"
        )
    if _is_loopback(host):
        return (
            f"reba serve: unauthenticated (no --api-key): any local process can use "
            f"http://{host}:{port}; bound to loopback only"
        )
    return (
        f"reba serve: WARNING: unauthenticated and bound to {host}: anyone who can reach port "
        f"{port} can use this server. Set --api-key (or REBA_API_KEY, --api-key-file), or bind "
        "to 127.0.0.1"
    )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: we cannot tell, so warn
        return False


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
