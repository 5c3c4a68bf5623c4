"""``reba explain``: which tokens each read-out weighs, in the terminal or as an HTML page.

reba explain "我们去银行取钱" --method reba,mean,pcot+reba
reba explain "The bank raised rates." "We sat on the river bank." --word bank --html out.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reba.cli.options import add_model_options

HELP = "show which tokens each method's embedding weighs (terminal, or --html page)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("texts", nargs="+", metavar="TEXT", help="the texts to explain")
    add_model_options(parser, config_file=False)  # several methods: flags, not one file
    parser.set_defaults(method="reba")
    parser.add_argument(
        "--word",
        help="explain the word-in-context embedding of WORD (its first occurrence in each text)",
    )
    parser.add_argument(
        "--html",
        metavar="OUT",
        help="also write a self-contained page (no network): the configurations side by side "
        "and, for several texts, their cosine-similarity matrices",
    )


def run(args: argparse.Namespace) -> int:
    from reba.engine.explain import explain_configs
    from reba.methods import EmbeddingConfig, parse_method
    from reba.models import DEFAULT_MODEL, load_model
    from reba.views.page import cosine_matrix, page_data, render_page
    from reba.views.terminal import show

    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    if not methods:
        raise ValueError("--method needs at least one method, e.g. reba,mean,pcot+reba")
    configs = []
    for name in methods:
        recipe = parse_method(name).recipe
        k = (args.k or recipe.default_k) if recipe.repeats else 1
        configs.append(EmbeddingConfig(name, k, args.layer, args.include_prefix, args.preprocess))
    items = [(t, args.word) for t in args.texts] if args.word else list(args.texts)
    lm = load_model(args.model or DEFAULT_MODEL, device=args.device, dtype=args.dtype)
    explained = explain_configs(
        lm, items, configs, level="word" if args.word else "sentence", max_length=args.max_length
    )
    columns = {cfg.label(): explained[cfg] for cfg in configs}
    similarity = {label: cosine_matrix([e.embedding for e in ex]) for label, ex in columns.items()}
    show(args.texts, columns, similarity)
    if args.html:
        from reba import __version__

        produced_by = f"reba {__version__} explain, model {lm.name}, methods {', '.join(columns)}"
        if args.word:
            produced_by += f", word {args.word!r}"
        page = render_page(
            "What an embedding sees", page_data(args.texts, columns), produced_by=produced_by
        )
        Path(args.html).write_text(page, encoding="utf-8")
        print(f"reba explain: wrote {args.html}")
    return 0
