"""A self-contained HTML page of explanations: inline CSS, JavaScript and data, no network."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from importlib.resources import files

import numpy as np

from reba.engine.explain import Explanation


def asset(name: str) -> str:
    """The text of ``reba/views/assets/NAME`` (the renderer and style the pages share)."""
    return files("reba.views").joinpath("assets", name).read_text(encoding="utf-8")


def page_data(texts: Sequence[str], columns: Mapping[str, Sequence[Explanation]]) -> dict:
    """What ``explain.js``'s ``rebaRender`` draws: per configuration label, its explanations
    of ``texts`` and their cosine-similarity matrix."""
    return {
        "texts": list(texts),
        "columns": [
            {
                "label": label,
                "items": [e.to_json() for e in explained],
                "similarity": cosine_matrix([e.embedding for e in explained]).round(6).tolist(),
            }
            for label, explained in columns.items()
        ],
    }


def cosine_matrix(vectors: Sequence[np.ndarray]) -> np.ndarray:
    """Cosine similarity of every pair of ``vectors`` (float64)."""
    matrix = np.asarray(vectors, dtype=np.float64)
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-300)
    return unit @ unit.T


def render_page(title: str, data: dict, *, produced_by: str) -> str:
    """The HTML page; ``produced_by`` (model, methods, reba version) is written into it."""
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="generator" content="{html.escape(produced_by)}">
<title>{html.escape(title)}</title>
<style>{asset("explain.css")}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="legend">{html.escape(produced_by)}</p>
<div id="view"></div>
<script id="data" type="application/json">{payload}</script>
<script>{asset("explain.js")}
rebaRender(document.getElementById("view"),
           JSON.parse(document.getElementById("data").textContent));</script>
</body></html>
"""
