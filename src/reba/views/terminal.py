"""Explanations in the terminal: each token shaded by its weight (``rich``), or, when output is
not a terminal or ``rich`` is missing, the tokens with their weights as plain numbers."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TextIO

import numpy as np

from reba.engine.explain import ExplainedInput, Explanation


def show(
    texts: Sequence[str],
    columns: Mapping[str, Sequence[Explanation]],
    similarity: Mapping[str, np.ndarray],
    out: TextIO | None = None,
) -> None:
    """Print every text's explanation under each configuration, then (several texts) each
    configuration's cosine-similarity matrix."""
    out = out or sys.stdout
    console = _console(out)
    for t, text in enumerate(texts):
        print(f"[{t + 1}] {text}", file=out, flush=True)
        for label, explained in columns.items():
            for n, one in enumerate(explained[t].inputs):
                name = label if len(explained[t].inputs) == 1 else f"{label} #{n + 1}"
                if console is not None:
                    console.print(_shaded(name, one))
                else:
                    print(f"  {name}: {plain(one)}", file=out)
            if explained[t].note:
                print(f"    ({explained[t].note})", file=out)
    if len(texts) > 1:
        for label, matrix in similarity.items():
            print(f"cosine similarity, {label}:", file=out)
            for i, row in enumerate(matrix):
                print(f"  [{i + 1}] " + " ".join(f"{v:6.3f}" for v in row), file=out)
    out.flush()


def plain(one: ExplainedInput) -> str:
    """``token(weight)`` for each token, copies and template apart by `` | ``."""
    parts = []
    for j, (token, w) in enumerate(zip(one.tokens, one.weights)):
        if j and one.segments[j] != one.segments[j - 1]:
            parts.append("|")
        parts.append(f"{_visible(token)}({w:.3f})")
    return " ".join(parts)


def _visible(token: str) -> str:
    return "·" if token == "" else token.replace("\n", "⏎")


def _console(out: TextIO):
    if not out.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console(file=out, highlight=False)


def _shaded(name: str, one: ExplainedInput):
    from rich.text import Text

    text = Text(f"  {name}: ", style="bold")
    top = float(one.weights.max()) or 1.0
    for j, (token, w) in enumerate(zip(one.tokens, one.weights)):
        if j and one.segments[j] != one.segments[j - 1]:
            text.append(" │ ", style="dim")
        level = float(w) / top  # white -> deep orange
        g, b = int(255 - 150 * level), int(255 - 235 * level)
        dim = one.segments[j] in ("template", "special", "placeholder")
        style = f"{'grey50' if dim else 'black'} on rgb(255,{g},{b})"
        text.append(_visible(token), style=style)
    return text
