"""Options shared by the commands that embed."""

from __future__ import annotations

import argparse

from reba.methods import PRESETS
from reba.models import DEFAULT_MODEL


def add_model_options(parser: argparse.ArgumentParser, *, method: str = "reba") -> None:
    parser.add_argument(
        "--model",
        "-m",
        default=DEFAULT_MODEL,
        help=f"bundled alias, local folder or .gguf, or hub id (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--method",
        default=method,
        help=f"method: {', '.join(PRESETS)}, or a combination such as pcot+reba, "
        f"prompteol+tp, ke+cp[alpha=2] (see reba info; default: {method})",
    )
    parser.add_argument(
        "-k",
        type=int,
        default=None,
        help="copies of the text (default: 2 for echo/reba, 1 otherwise)",
    )
    parser.add_argument(
        "--layer",
        type=int,
        default=None,
        help="hidden layer, -1 = last (default: the method's own, e.g. -2 for pcot)",
    )
    parser.add_argument(
        "--preprocess",
        choices=["senteval"],
        default=None,
        help="senteval: SentEval's English STS preprocessing of each text (for reproductions)",
    )
    parser.add_argument(
        "--include-prefix",
        action="store_true",
        help="reba: also sum the special-prefix rows (the authors' variant)",
    )
    parser.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="longest model input in tokens; texts are cut before repeating",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: best available)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16, float16 (default: auto)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="model rows per forward pass: one text each, or several when packed (default: 16)",
    )
