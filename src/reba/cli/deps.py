"""Optional dependencies, checked before a command does any work.

Each command (or option) that needs an extra names it here; ``check_command`` runs before the
command, so a missing package stops it at once with the pip line, instead of after minutes of
embedding with a bare ``No module named ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Sequence


class MissingDependency(ImportError):
    """An optional package a command needs is not installed."""


# extra -> the modules it provides (import names)
EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("scipy", "sklearn", "matplotlib"),
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
    "st": ("sentence_transformers",),
    "ray": ("ray",),
    "chroma": ("chromadb",),
    "lancedb": ("lancedb",),
    "qdrant": ("qdrant_client",),
    "llamaindex": ("llama_index.core",),
    "haystack": ("haystack",),
}
ALTERNATIVES = {"ray": '  (or: pip install "ray[data]>=2.60,<2.61")'}


def missing_modules(modules: Sequence[str]) -> list[str]:
    """The modules of ``modules`` that cannot be imported (a ``None`` in sys.modules counts)."""
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a parent package is missing, or a broken entry
            found = False
        if not found:
            missing.append(name)
    return missing


def require(extra: str, purpose: str, modules: Sequence[str] | None = None) -> None:
    """Raise ``MissingDependency`` naming the pip line if any module of ``extra`` is missing."""
    missing = missing_modules(EXTRAS[extra] if modules is None else modules)
    if missing:
        raise MissingDependency(
            f"{purpose} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f'not installed; install with:  pip install "reba[{extra}]"'
            + ALTERNATIVES.get(extra, "")
        )


def needs(args: argparse.Namespace) -> list[tuple[str, str, tuple[str, ...] | None]]:
    """What a parsed command line needs: ``(extra, purpose, modules or None for all)``."""
    command = args.command
    if command == "eval":
        return [("eval", "reba eval", None)]
    if command == "tune":
        return [("eval", "reba tune", ("scipy", "sklearn"))]
    if command == "report":
        return [("eval", "reba report (figures)", ("matplotlib",))]
    if command == "serve":
        return [("serve", "reba serve", None)]
    if command == "export":
        return [("st", f"reba export {getattr(args, 'format', 'st')}", None)]
    if command == "embed" and getattr(args, "engine", "local") == "ray":
        return [("ray", "reba embed --engine ray", ("ray", "ray.data"))]
    return []


def check_command(args: argparse.Namespace) -> None:
    """Fail before any work if the command's optional dependencies are missing."""
    for extra, purpose, modules in needs(args):
        require(extra, purpose, modules)
