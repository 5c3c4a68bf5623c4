"""``reba tune``: choose a method, layer and k for a model on the user's data; write the
winner's configuration file."""

from __future__ import annotations

import argparse
import sys

HELP = "choose the best method, layer and k for a model on your data; write its configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from reba.cli.evaluate import add_run_options
    from reba.models import DEFAULT_MODEL
    from reba.tune import DEFAULT_METHODS
    from reba.tune.search import ALIGN_UNIFORM, FREE_CRITERIA

    parser.add_argument("--model", "-m", default=DEFAULT_MODEL)
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument(
        "--data",
        help="labelled data: a folder with manifest.json (as reba eval), or one JSONL file "
        "with --type",
    )
    data.add_argument(
        "--texts",
        help="unlabelled texts (.txt, .jsonl, .csv, .parquet; column --field): chosen by the "
        "label-free criterion",
    )
    parser.add_argument(
        "--tasks", default="", help="with a --data folder: task names (default all)"
    )
    parser.add_argument("--type", default=None, help="with a --data file: its task type, e.g. sts")
    parser.add_argument("--field", default="text", help="with --texts: the text column")
    parser.add_argument(
        "--label-free",
        action="store_true",
        help="with --data: choose without the labels (as for --texts) and report how the "
        "choice scores against them",
    )
    parser.add_argument(
        "--criterion",
        choices=FREE_CRITERIA,
        default=ALIGN_UNIFORM,
        help="the label-free criterion of --texts and --label-free: minus (alignment + "
        "uniformity) of each text and a random-deletion view, or reba eval --layers free's "
        "dataset entropy (highest) or TwoNN intrinsic dimension (lowest) of the texts' vectors "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--methods",
        default=",".join(DEFAULT_METHODS),
        help=f"methods, combinations or named grids (default: {','.join(DEFAULT_METHODS)})",
    )
    parser.add_argument("-k", default="1-3", help="copies for repeating methods (default: 1-3)")
    parser.add_argument(
        "--layers",
        default="own,dev",
        help="layers: own (each method's), dev (reba eval's candidate layers), indices "
        "(default: own,dev)",
    )
    parser.add_argument(
        "--budget-texts",
        type=int,
        default=None,
        help="embed at most this many distinct inputs (rows sampled, seeded, per task)",
    )
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="start no stage of methods that would likely end past this (the best so far wins)",
    )
    parser.add_argument("--bootstrap", type=int, default=200, help="resamples for test errors")
    parser.add_argument("--cost", type=int, default=32, help="texts to time each method on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preprocess", choices=["senteval"], default=None)
    parser.add_argument("--out", required=True, help="the configuration file to write (JSON)")
    add_run_options(parser)


def run(args: argparse.Namespace) -> int:
    from reba.cli.evaluate import parse_ints, parse_layers, wants_free
    from reba.eval.grids import expand
    from reba.eval.runner import sweep_configs
    from reba.eval.selection import dev_layers
    from reba.models import load_model
    from reba.tune import Budget, Grid, labelled_tasks, tune, unlabelled_task
    from reba.tune.search import ALIGN_UNIFORM

    try:
        ks, (layers, dev) = parse_ints(args.k), parse_layers(args.layers)
    except ValueError as err:
        raise ValueError(f"-k/--layers take integers or ranges like 1-3: {err}") from err
    if wants_free(args.layers):
        raise ValueError(
            "--layers free is reba eval's row per method with a label-free layer; reba tune "
            "chooses without labels with --label-free (or --texts), by --criterion"
        )
    if args.texts and args.label_free:
        raise ValueError("--label-free is for labelled --data; --texts is always label-free")
    if args.criterion != ALIGN_UNIFORM and not (args.texts or args.label_free):
        raise ValueError(
            f"--criterion {args.criterion} chooses without labels: add --label-free (or give "
            "--texts)"
        )
    methods = expand(args.methods)
    sweep_configs(methods, ks, [None], "sentence")  # unknown method names fail before loading
    if args.texts:
        tasks = [unlabelled_task(args.texts, args.field)]
    else:
        tasks = labelled_tasks(args.data, [t for t in args.tasks.split(",") if t], args.type)
    lm = load_model(args.model, device=args.device, dtype=args.dtype)

    grid = Grid(
        methods=tuple(methods),
        ks=tuple(ks),
        layers=tuple(dict.fromkeys([*layers, *(dev_layers(lm.num_layers) if dev else [])])),
        preprocess=args.preprocess,
    )
    config, doc, files = tune(
        lm,
        tasks,
        args.out,
        model=args.model,
        grid=grid,
        budget=Budget(args.budget_minutes),
        budget_texts=args.budget_texts,
        # --texts is scored by minus (alignment + uniformity) itself; another criterion
        # chooses as on labelled data without the labels
        label_free=args.label_free or (bool(args.texts) and args.criterion != ALIGN_UNIFORM),
        criterion=args.criterion,
        bootstrap=args.bootstrap,
        cost_texts=args.cost,
        seed=args.seed,
        batch_size=args.batch_size,
        max_length=args.max_length,
        cache_path=args.cache,
        show_progress_bar=not args.quiet,
    )
    print(files[-1].read_text(encoding="utf-8"))
    print(f"reba tune: {doc['seconds']} s -> " + ", ".join(map(str, files)), file=sys.stderr)
    return 0
