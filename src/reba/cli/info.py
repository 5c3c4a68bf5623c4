"""``reba info``: bundled models, methods, and where converted models are cached."""

from __future__ import annotations

import argparse
import importlib.util

HELP = "list the bundled models, the methods and the cache folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from reba import __version__
    from reba.methods import METHODS
    from reba.models import BUNDLED_MODELS, DEFAULT_MODEL, cache_dir

    print(f"reba {__version__}\n\nBundled models:")
    for alias, model in BUNDLED_MODELS.items():
        installed = importlib.util.find_spec(model.module) is not None
        state = "installed" if installed else f"not installed: {model.install}"
        default = " (default)" if alias == DEFAULT_MODEL else ""
        print(f"  {alias:<18}{model.description}{default}\n  {'':<18}[{state}; {model.licence}]")
    print("\nMethods (sentence / word level):")
    for (level, name), method in METHODS.items():
        k = "k>=1" if method.repeats else "k=1"
        print(f"  {level:<9}{name:<11}{k:<6}{method.description}")
    print(f"\nCache folder: {cache_dir()}  (set REBA_CACHE to move it)")
    return 0
