"""Options shared by the commands that embed, and the one way they become a configuration.

The configuration flags (``--model``, ``--method``, ``-k``, ``--layer``, ``--include-prefix``,
``--preprocess``, ``--max-length``, ``--dtype``) are named after the fields of
:class:`reba.EmbedderConfig` and default to "not given", so the defaults live in the
configuration alone. ``--config FILE`` loads a saved configuration instead; combined with any
configuration flag it is refused (edit the file, or drop ``--config``), so what runs is exactly
what the file says. ``--device`` and ``--batch-size`` say how to run, not what to compute, and
combine with either.
"""

from __future__ import annotations

import argparse
import dataclasses

from reba.config import EmbedderConfig
from reba.methods import PRESETS
from reba.models import DEFAULT_MODEL

# The EmbedderConfig fields set by flags (recipe and postprocess travel in files only).
FILE_ONLY = ("recipe", "postprocess")
CONFIG_FLAGS = tuple(f.name for f in dataclasses.fields(EmbedderConfig) if f.name not in FILE_ONLY)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="a saved configuration (JSON, e.g. from reba tune or embedder.config.save); "
        "not combinable with --model/--method/-k/--layer/--include-prefix/--preprocess/"
        "--max-length/--dtype",
    )


def add_model_options(
    parser: argparse.ArgumentParser, *, method: str = "reba", config_file: bool = True
) -> None:
    if config_file:
        add_config_option(parser)
    parser.add_argument(
        "--model",
        "-m",
        default=None,
        help=f"bundled alias, local folder or .gguf, or hub id (default: {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--method",
        default=None,
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
        default=None,
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


def given_flags(args: argparse.Namespace) -> dict:
    """The configuration flags given on the command line (the others are None)."""
    return {name: getattr(args, name) for name in CONFIG_FLAGS if getattr(args, name) is not None}


def config_from_args(args: argparse.Namespace) -> EmbedderConfig:
    """The configuration of a command: ``--config FILE``, or the flags over the defaults."""
    given = given_flags(args)
    if getattr(args, "config", None) is None:
        return EmbedderConfig(**given)
    if given:
        flags = ", ".join("-k" if n == "k" else "--" + n.replace("_", "-") for n in given)
        raise ValueError(
            f"--config {args.config} sets the whole configuration; {flags} cannot be combined "
            "with it (edit the file, or drop --config)"
        )
    return EmbedderConfig.load(args.config)
