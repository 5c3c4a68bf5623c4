"""``reba fit``: fit post-processing on unlabelled texts; write the state and a configuration.

    reba fit --model smollm2-135m --method reba --input texts.txt --kind abtt --out pp-abtt
    reba embed --config pp-abtt/config.json -i corpus.jsonl -o vectors/

``OUT_DIR/postprocess/`` holds the state (``state.json``, ``state.safetensors``, digest) and
``OUT_DIR/config.json`` the configuration referencing it (relatively: the folder can be moved).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from reba.cli.options import add_model_options, config_from_args
from reba.postprocess import FITTERS

HELP = "fit post-processing (mean, abtt, whitening, zscore) on texts; write it and a configuration"
STATE_DIR = "postprocess"
CONFIG_NAME = "config.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", "-i", required=True, help="unlabelled texts: a .txt/.jsonl/.csv/.parquet file"
    )
    parser.add_argument("--field", default="text", help="text column of a table (default: text)")
    parser.add_argument(
        "--kind",
        required=True,
        choices=list(FITTERS),
        help="mean: mean removal; abtt: the mean and the top principal directions removed; "
        "whitening: covariance made the identity; zscore: per-dimension z-scores",
    )
    parser.add_argument(
        "--components", type=int, default=None, help="abtt: directions removed (default: d/100)"
    )
    parser.add_argument(
        "--projection",
        choices=["centred", "raw"],
        default=None,
        help="abtt: project the centred vectors (default) or the raw ones (the paper as printed)",
    )
    parser.add_argument(
        "--dim", type=int, default=None, help="whitening: keep this many dimensions (default: all)"
    )
    parser.add_argument(
        "--out", required=True, metavar="OUT_DIR", help="folder for the state and config.json"
    )
    add_model_options(parser)


def fit_params(args: argparse.Namespace) -> dict:
    """The fitter's keywords from the flags; a flag of another kind is refused."""
    given = {
        "components": ("abtt", "k", args.components),
        "projection": ("abtt", "projection", args.projection),
        "dim": ("whitening", "dims", args.dim),
    }
    params = {}
    for flag, (kind, name, value) in given.items():
        if value is None:
            continue
        if kind != args.kind:
            raise ValueError(f"--{flag} applies to --kind {kind}, not {args.kind}")
        params[name] = value
    return params


def read_texts(path: str, field: str) -> list[str]:
    """Every text of ``path``; a row that cannot be read is refused (naming it), not skipped."""
    from reba.io.read import read_inputs

    records = read_inputs(path, field=field, id_field=None)
    for row, text in zip(records.rows, records.items):
        if not text.strip():
            records.problems.setdefault(row, "empty text")
    if records.problems:
        row, problem = min(records.problems.items())
        raise ValueError(
            f"{path}: row {row}: {problem} ({len(records.problems)} bad row(s) in all); "
            "a fit uses every text or none"
        )
    return records.items


def run(args: argparse.Namespace) -> int:
    from reba.embedder import Embedder

    params = fit_params(args)
    texts = read_texts(args.input, args.field)
    out = Path(args.out)
    embedder = Embedder.from_config(config_from_args(args), device=args.device)
    fitted = embedder.fit(
        texts, args.kind, out=out / STATE_DIR, batch_size=args.batch_size, **params
    )
    ref = fitted.config.postprocess
    # the file names the state relatively, so OUT_DIR can be moved as a whole
    path = fitted.config.replace(postprocess=replace(ref, path=STATE_DIR)).save(out / CONFIG_NAME)
    print(
        f"reba fit: {ref.kind} {ref.params} on {len(texts)} texts, sha256 {ref.sha256[:12]}; "
        f"wrote {out / STATE_DIR}/ and {path} (use: reba embed --config {path} ...)",
        file=sys.stderr,
    )
    return 0
