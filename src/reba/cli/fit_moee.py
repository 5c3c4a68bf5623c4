"""``reba fit-moee``: MoEE's z-score statistics fitted once on a corpus, saved with a digest.

    reba fit-moee --model ./OLMoE-1B-7B-0924 --method moee-sum --input corpus.txt --out stats/
    reba embed ... --model ./OLMoE-1B-7B-0924 --method "moee-sum+moee[stats=stats/]"

``--input``/``--field``: the texts, of the kind to be embedded, read as ``reba fit`` reads them
(``.txt``/``.jsonl``/``.csv``/``.parquet``; an empty or unreadable row is refused, naming it).
Prints the method name that uses the statistics.
"""

from __future__ import annotations

import argparse

from reba.cli.options import add_model_options, config_from_args

HELP = "fit MoEE's statistics (mean and std per dimension) on a corpus, for moee[stats=DIR]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser, method="moee", config_file=False)
    parser.add_argument(
        "--input", "-i", required=True, help="unlabelled texts: a .txt/.jsonl/.csv/.parquet file"
    )
    parser.add_argument("--field", default="text", help="text column of a table (default: text)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write")


def run(args: argparse.Namespace) -> int:
    from reba.cli.fit import read_texts
    from reba.moee import fit_stats

    config = config_from_args(args)
    texts = read_texts(args.input, args.field)
    options = {
        k: getattr(config, k)
        for k in ("layer", "dtype", "preprocess", "max_length")
        if getattr(config, k) is not None
    }
    method = fit_stats(
        config.model,
        texts,
        args.out,
        method=args.method or "moee",
        batch_size=args.batch_size,
        device=args.device,
        **options,
    )
    print(method)
    return 0
