"""``reba export st OUT_DIR``: a sentence-transformers model folder for a reba configuration.

    reba export st reba-st --model gemma-3-270m --method reba -k 2 --prompt query="query: "
    reba export st reba-st --config best.json

The folder holds no weights; ``SentenceTransformer(OUT_DIR, trust_remote_code=True)`` builds
the ``reba.Embedder`` with the installed reba (see ``reba.integrations.sentence_transformers``).
"""

from __future__ import annotations

import argparse
import sys

from reba.cli.options import add_model_options, config_from_args

HELP = "write a sentence-transformers model folder (no weights) that embeds with reba"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=["st"], help="st: a sentence-transformers model folder")
    parser.add_argument("out", metavar="OUT_DIR", help="folder to write (created if needed)")
    add_model_options(parser)
    parser.add_argument(
        "--prompt",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="a named prompt put before the text, e.g. query='query: ' (repeatable); "
        "encode_query/encode_document use 'query'/'document'",
    )
    parser.add_argument("--default-prompt-name", help="the prompt encode uses when none is given")
    parser.add_argument(
        "--similarity",
        default="cosine",
        choices=["cosine", "dot", "euclidean", "manhattan"],
        help="the model's similarity_fn_name (default: cosine)",
    )


def run(args: argparse.Namespace) -> int:
    from reba.cli.serve import parse_prompts
    from reba.integrations.sentence_transformers import export_st

    out = export_st(
        args.out,
        config=config_from_args(args),
        prompts=parse_prompts(args.prompt),
        default_prompt_name=args.default_prompt_name,
        similarity_fn_name=args.similarity,
        device=args.device,
    )
    print(
        f"reba export: wrote {out} (load with SentenceTransformer({str(out)!r}, "
        "trust_remote_code=True))",
        file=sys.stderr,
    )
    return 0
