"""MoEE's vectors and scores (Li & Zhou 2025; the part is ``reba.methods.moee``).

Output format. A MoEE method's vector (``Embedder.encode``) has ``d + R`` dimensions: the hidden
state's ``d`` first, then the routing vector's ``R`` (experts summed over the MoE layers;
``Embedder.describe()["moee"]`` gives both). With ``combine="concat"`` it is ``z([HS, RW])``;
with ``combine="sum"`` it is ``[u(z(HS)), sqrt(alpha) u(z(RW))] / sqrt(1 + alpha)`` (``u``:
L2-normalised), so that its cosine with another is the authors' summed similarity
``cos(z(HS_a), z(HS_b)) + alpha cos(z(RW_a), z(RW_b))`` divided by ``1 + alpha``: the same
ranking, correlation and ordering for every cosine-based scorer. ``summed_similarity`` gives
the sum itself from two vectors of this form or from the parts.

``fit_stats`` fits the z-score statistics on a corpus and saves them with a digest; the method
then names the folder: ``moee[stats=DIR]``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from reba.methods.moee import RouterWeights
from reba.postprocess.files import save_state
from reba.postprocess.state import PostState
from reba.postprocess.zscore import fit_zscore, zscore_rows


def standardised(raw: np.ndarray, part: RouterWeights, state: PostState | None) -> np.ndarray:
    """``raw`` ``[HS, RW]`` rows (in the call's input order) z-scored as ``part.stats`` says:
    with the fitted ``state``, per run of ``part.batch`` rows (the authors'), or not at all."""
    if part.stats == "none":
        return np.asarray(raw, dtype=np.float64)
    if part.stats == "batch":
        runs = [raw[i : i + part.batch] for i in range(0, len(raw), part.batch)]
        return np.concatenate([zscore_rows(run) for run in runs]) if runs else raw
    if state is None:
        raise ValueError("moee: fitted statistics are needed (moee[stats=DIR])")
    return state.transform(raw)


def combined(z: np.ndarray, hidden: int, part: RouterWeights) -> np.ndarray:
    """The output vectors (float32) from z-scored ``[HS, RW]`` rows whose first ``hidden``
    columns are the hidden state."""
    z = np.asarray(z, dtype=np.float64)
    if part.combine == "concat":
        return z.astype(np.float32)
    hs, rw = _unit(z[:, :hidden]), _unit(z[:, hidden:])
    fused = np.concatenate([hs, np.sqrt(part.alpha) * rw], axis=1) / np.sqrt(1 + part.alpha)
    return fused.astype(np.float32)


def summed_similarity(a: np.ndarray, b: np.ndarray, hidden: int, alpha: float = 1.0) -> np.ndarray:
    """The authors' MoEE (sum) score of every pair of rows of ``a`` and ``b`` (``(n, m)``,
    float64): ``cos(HS_a, HS_b) + alpha * cos(RW_a, RW_b)``, each row split after ``hidden``
    columns (z-scored ``[HS, RW]`` rows, or vectors of ``combine="sum"``: the same score)."""
    a, b = (np.atleast_2d(np.asarray(x, dtype=np.float64)) for x in (a, b))
    cos_hs = _unit(a[:, :hidden]) @ _unit(b[:, :hidden]).T
    cos_rw = _unit(a[:, hidden:]) @ _unit(b[:, hidden:]).T
    return cos_hs + alpha * cos_rw


def fit_stats(
    model: Any,
    texts: Iterable[str],
    out: str | Path,
    *,
    method: str = "moee",
    batch_size: int = 16,
    **options: Any,
) -> str:
    """Fit MoEE's z-score statistics on ``texts`` (a corpus of the kind to be embedded; at least
    two) for ``method``'s prompt, layer and router normalisation (its statistics and
    combination are ignored), save them in the folder ``out`` (a ``reba.postprocess`` state of
    kind ``zscore``, with a digest and what it was fitted on) and return the method name that
    uses them, e.g. ``moee+moee[stats=OUT]`` (``OUT`` made absolute, so that the name works from
    any folder: serve, export, another process). ``model``: anything ``Embedder`` takes;
    ``options``: ``Embedder``'s other keywords (``layer``, ``dtype``, ``preprocess``,
    ``max_length``, ``device``), recorded with the statistics: use the same when embedding."""
    from reba.embedder import Embedder

    texts = list(texts)
    raw_method = with_moee(method, combine="concat", stats="none")
    if len(texts) < 2:
        raise ValueError(f"moee statistics need at least 2 texts, got {len(texts)}")
    embedder = Embedder(model, method=raw_method, **options)
    raw = embedder.encode(texts, batch_size=batch_size)
    source = {
        "model": embedder.lm.name,
        **{k: v for k, v in embedder.config.to_dict().items() if k not in ("schema", "recipe")},
        "texts": len(texts),
        "texts_sha256": hashlib.sha256("\n".join(texts).encode()).hexdigest(),
    }
    save_state(fit_zscore(raw, source), out)
    return with_moee(method, stats=str(Path(out).resolve()))


def with_moee(method: str, **changes: Any) -> str:
    """The canonical name of ``method`` with its MoEE part's parameters changed."""
    from reba.methods import parse_method
    from reba.methods.parse import canonical_name, split_parts

    parsed = parse_method(method)
    if parsed.recipe.moee is None:
        raise ValueError(f"method {method!r} has no MoEE part (e.g. 'moee', 'moee-sum')")
    part = dataclasses.replace(parsed.recipe.moee, **changes)
    recipe = dataclasses.replace(parsed.recipe, moee=part)
    name = canonical_name(split_parts(parsed.name)[0], recipe)
    if parse_method(name).recipe != recipe:  # e.g. a folder name the grammar cannot hold
        raise ValueError(f"moee: {changes} cannot be written in a method name ({name!r})")
    return name


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
