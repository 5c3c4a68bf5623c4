"""``reba eval``: a sweep of methods x copies x layers over evaluation tasks, with reports."""

from __future__ import annotations

import argparse
import sys
import time

HELP = "evaluate methods and numbers of copies on word and sentence tasks"


def parse_ints(text: str) -> list[int]:
    """'1-5' -> [1, 2, 3, 4, 5]; '1,3,-1' -> [1, 3, -1]."""
    values: list[int] = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if dash and first:  # a range a-b (a leading '-' is a negative number)
            values += list(range(int(first), int(last) + 1))
        else:
            values.append(int(part))
    return values


def parse_layers(text: str) -> tuple[list[int | None], bool]:
    """Layers as ``parse_ints``, where ``own`` is each method's own layer (None); and whether
    ``dev`` (choose the layer on each task's dev half) was asked for. ``free`` (a label-free
    choice, ``wants_free``) is left out here."""
    parts = [p.strip() for p in text.split(",")]
    own = [None] if "own" in parts else []
    rest = ",".join(p for p in parts if p not in ("own", "dev", "free"))
    return own + (parse_ints(rest) if rest else []), "dev" in parts


def wants_free(text: str) -> bool:
    """Whether ``--layers`` asks for a row per method chosen by a label-free criterion."""
    return "free" in (p.strip() for p in text.split(","))


# What --config replaces, with the defaults used without it.
SWEEP_DEFAULTS = {
    "model": None,  # reba.models.DEFAULT_MODEL
    "methods": "leading",  # reba.eval.grids: what to run first on a model never tried
    "k": "2",
    "layers": "own",
    "preprocess": None,
    "max_length": None,
    "dtype": None,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from reba.cli.options import add_config_option
    from reba.models import DEFAULT_MODEL

    add_config_option(parser)
    parser.add_argument("--model", "-m", default=None, help=f"default: {DEFAULT_MODEL}")
    parser.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods, combinations or named grids (all, repetition, prompts, "
        "interventions, reba-prompts, frontier, leading, word), e.g. prompts,reba,pcot+reba; "
        "'reba+prefix' adds the authors' BOS-row variant (default: leading, the stage-2 "
        "leaders of results/README.md and the baselines)",
    )
    parser.add_argument("--k", default=None, help="copies, e.g. 1-5 or 2,4 (default: 2)")
    parser.add_argument(
        "--layers",
        default=None,
        help="hidden layers, e.g. own,-1,12 ('own': each method's own layer; 'dev': also a row "
        "per method with its layer, and k, chosen on each task's dev half, every score then "
        "on the test half; 'free': also a row per method with its layer, and k, chosen by a "
        "label-free criterion on the task's texts, see --layer-criterion; default: own)",
    )
    parser.add_argument(
        "--layer-criterion",
        choices=["entropy", "twonn"],
        default="entropy",
        help="with --layers free: dataset entropy (highest; Skean et al. 2025) or TwoNN "
        "intrinsic dimension (lowest; as KV-Embedding) of the method's vectors of the task's "
        "texts (default: entropy)",
    )
    parser.add_argument(
        "--dev-k", default=None, help="with dev: the copies to choose among (default: --k)"
    )
    parser.add_argument(
        "--dev-demos",
        default=None,
        help="with dev: the in-context demonstrations (lines of the method's pool: reba's own, "
        "or icl[pool=PATH]) prompteol-icl chooses among, e.g. 1-20 (default: the whole pool; "
        "one forward pass per demonstration and text)",
    )
    parser.add_argument(
        "--sample", type=int, default=None, help="at most this many rows per task file (seeded)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default: 0)")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        help="resamples for a standard error of every score (e.g. 200; default: 0, none)",
    )
    parser.add_argument(
        "--cost",
        type=int,
        default=0,
        help="time each sentence method on this many of the texts (texts/s in the report)",
    )
    parser.add_argument(
        "--preprocess", choices=["senteval"], default=None, help="SentEval's STS preprocessing"
    )
    parser.add_argument(
        "--postprocess",
        default="none",
        help="sentence rows also with post-processing fitted on each task's own texts (all of "
        "them, unlabelled): none, mean, abtt[:K], whitening[:DIMS], e.g. none,mean,abtt "
        "(default: none)",
    )
    parser.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    parser.add_argument("--data", required=True, help="data folder laid out like shared/data")
    parser.add_argument("--out", required=True, help="folder for results.json, .md and figures")
    add_run_options(parser)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """How a sweep runs (``reba eval``, ``reba tune``): cache, batches, length, device, dtype."""
    parser.add_argument(
        "--cache",
        default=None,
        help="embedding cache file (default: <reba cache>/embeddings.sqlite)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from reba.cli.deps import require

    require("eval", "reba eval")  # before loading a model or embedding anything
    from reba.eval.grids import expand
    from reba.eval.postprocess import parse_postprocess
    from reba.eval.publish import write_report
    from reba.eval.runner import Sweep, run_sweep, sweep_configs, write_results
    from reba.models import load_model

    dtype = sweep_from_config(args) if args.config else _with_defaults(args)
    try:
        ks, (layers, dev) = parse_ints(args.k), parse_layers(args.layers)
        dev_ks = parse_ints(args.dev_k) if args.dev_k else []
        dev_demos = parse_ints(args.dev_demos) if getattr(args, "dev_demos", None) else []
    except ValueError as err:
        raise ValueError(f"--k/--layers take integers or ranges like 1-5: {err}") from err
    methods = expand(args.methods)
    sweep_configs(methods, ks, layers, "sentence")  # unknown method names fail before loading
    sweep = Sweep(
        methods=tuple(methods),
        ks=tuple(ks),
        layers=tuple(layers),
        dev=dev,
        dev_ks=tuple(dev_ks),
        dev_demos=tuple(dev_demos),
        free=wants_free(args.layers),
        free_criterion=args.layer_criterion,
        preprocess=args.preprocess,
        sample=args.sample,
        seed=args.seed,
        bootstrap=args.bootstrap,
        cost_texts=args.cost,
        postprocess=parse_postprocess(args.postprocess),
    )
    lm = load_model(args.model, device=args.device, dtype=dtype)
    start = time.perf_counter()
    document = run_sweep(
        lm,
        [t for t in args.tasks.split(",") if t],
        args.data,
        sweep,
        batch_size=args.batch_size,
        max_length=args.max_length,
        cache_path=args.cache,
        show_progress_bar=not args.quiet,
    )
    document["timings"]["total_seconds"] = round(time.perf_counter() - start, 1)
    files = [write_results(document, args.out), *write_report(args.out)]
    print(
        f"reba eval: {len(document['rows'])} configurations x {len(document['tasks'])} tasks "
        f"in {document['timings']['total_seconds']} s -> " + ", ".join(map(str, files)),
        file=sys.stderr,
    )
    return 0


def _with_defaults(args: argparse.Namespace):
    from reba.models import DEFAULT_MODEL

    for name, default in SWEEP_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.model = args.model or DEFAULT_MODEL
    return args.dtype


def sweep_from_config(args: argparse.Namespace):
    """``--config FILE``: evaluate exactly that configuration (one method, k, layer); the
    sweep flags it replaces are refused. Returns the dtype to load the model in."""
    from reba.config import EmbedderConfig
    from reba.methods import parse_method

    given = [n for n in SWEEP_DEFAULTS if getattr(args, n) is not None]
    if given:
        flags = ", ".join(f"--{n.replace('_', '-')}" for n in given)
        raise ValueError(f"--config {args.config} sets {flags}; give one or the other")
    config = EmbedderConfig.load(args.config)
    if config.postprocess is not None:
        raise ValueError(
            f"--config {args.config} holds a fitted post-processing state; reba eval fits its "
            "own on each task's texts: use a configuration without it and --postprocess "
            f"{config.postprocess.kind}"
        )
    parsed = parse_method(config.method)
    args.model, args.preprocess, args.max_length = (
        config.model,
        config.preprocess,
        config.max_length,
    )
    args.methods = parsed.name + ("+prefix" if config.include_prefix else "")
    args.k = str(parsed.recipe.default_k if config.k is None else config.k)
    args.layers = "own" if config.layer is None else str(config.layer)
    return config.dtype
