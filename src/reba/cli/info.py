"""``reba info``: bundled models, methods, the cache folder, and how a model runs."""

from __future__ import annotations

import argparse

HELP = "list the bundled models, the methods and the cache folder (--model: how it runs)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", "-m", default=None, help="also load this model and say how reba runs it"
    )


def run(args: argparse.Namespace) -> int:
    from reba._version import __version__
    from reba.models import BUNDLED_MODELS, DEFAULT_MODEL, cache_dir

    print(f"reba {__version__}\n\nBundled models:")
    for alias, model in BUNDLED_MODELS.items():
        state = "installed" if model.installed() else f"not installed: {model.install}"
        state = f"optional, {state}" if model.optional else state
        default = " (default)" if alias == DEFAULT_MODEL else ""
        print(f"  {alias:<20}{model.description}{default}\n  {'':<20}[{state}; {model.licence}]")
    _print_methods()
    print(f"\nCache folder: {cache_dir()}  (set REBA_CACHE to move it)")
    if args.model:
        _print_model(args.model)
    return 0


def _print_methods() -> None:
    from reba.methods import PRESETS, SOURCES

    print("\nMethods (k: copies; fwd: forward passes per text; word: has a word-level form):")
    for name, recipe in PRESETS.items():
        k = f"k>=1 ({recipe.default_k})" if recipe.repeats else "k=1"
        word = "word" if recipe.readout in ("mean", "reba") else ""
        print(
            f"  {name:<17}{k:<11}fwd {recipe.forwards_per_text():<3}{word:<6}{recipe.description}"
        )
    print(
        "\n  Combine with +: a read-out (mean, last, reba, reba-last), an intervention (tp, cp,"
        "\n  with parameters e.g. cp[layer=3,alpha=2,mode=nr] or tp[start=1,end=4]), a read-out"
        "\n  through the LM head (embedfilter[ratio=2], sparse[top=128]) or a tokenization"
        "\n  (whole, pieces): pcot+reba, prompteol+tp+reba-last, ke+cp[alpha=2],"
        "\n  prompteol+embedfilter."
        f"\n  Sources: {'; '.join(f'{k}: {v}' for k, v in SOURCES.items() if k in ('tp', 'cp'))}"
    )


def _print_model(name: str) -> None:
    from reba.attention import backward_attention_path
    from reba.methods.interventions import scaled_layer
    from reba.models import load_model

    lm = load_model(name)
    depth = lm.num_layers
    path = backward_attention_path(lm.model) if lm.causal else "none (encoder)"
    print(
        f"\nModel {name}: {type(lm.model).__name__}, {depth} layers, dimension {lm.dimension}, "
        f"max length {lm.max_length}, {'causal' if lm.causal else 'bidirectional'}, on "
        f"{lm.device}\n  backward attention: {path}\n  paper layers at this depth: "
        f"TP layers [1, {max(2, scaled_layer(7, depth))}), CP layer {scaled_layer(4, depth)} "
        f"(PromptEOL) / {scaled_layer(6, depth)} (PCoT, KE), read-out 'depth-5' = "
        f"hidden_states[{depth - 5}]"
    )
