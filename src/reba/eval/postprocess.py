"""Post-processing on and off in a sweep (``reba eval --postprocess none,mean,abtt``).

Each sentence row is scored once per post-processing: ``none``, or a kind of
``reba.postprocess.FITTERS`` with an optional number (``abtt:3``: 3 directions removed;
``whitening:64``: whitened to 64 dimensions; without it the fitter's default: abtt d/100,
whitening all d). The state is fitted per task on the vectors of ALL of the task's own texts
(every input its evaluator embeds, both halves with ``--layers dev``; unlabelled, as the
whitening papers fit on the evaluation sentences), then applied to them. The cache holds the
vectors BEFORE post-processing, so its keys do not change and one forward serves every
post-processing. Word tasks and ``@dev`` rows are scored without post-processing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from reba.postprocess import FITTERS, fit

NONE = "none"
PARAM = {"abtt": "k", "whitening": "dims"}  # the number after ':'


def parse_postprocess(text: str) -> tuple[str, ...]:
    """``"none,mean,abtt:3"`` -> ``("none", "mean", "abtt:3")``, each checked."""
    specs = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    for spec in specs:
        fit_params(spec)
    return specs or (NONE,)


def fit_params(spec: str) -> tuple[str, dict[str, Any]]:
    """``(kind, keywords)`` of one spec; a ValueError names what is wrong."""
    kind, colon, number = spec.partition(":")
    if kind != NONE and kind not in FITTERS:
        raise ValueError(
            f"--postprocess: unknown {spec!r}; use none, {', '.join(FITTERS)}, or abtt:K, "
            "whitening:DIMS"
        )
    if not colon:
        return kind, {}
    if kind not in PARAM or not number.isdigit() or int(number) < 1:
        raise ValueError(
            f"--postprocess: {spec!r}: only abtt:K and whitening:DIMS take a positive number"
        )
    return kind, {PARAM[kind]: int(number)}


def pp_label(row_label: str, spec: str) -> str:
    return row_label if spec == NONE else f"{row_label}/pp-{spec}"


def postprocessed(vectors: Mapping[Any, np.ndarray], spec: str, task: str) -> dict:
    """``vectors`` (input -> vector) with ``spec`` fitted on all of them and applied."""
    if spec == NONE or not vectors:
        return dict(vectors)
    kind, params = fit_params(spec)
    keys = list(vectors)
    matrix = np.stack([vectors[k] for k in keys])
    try:
        state = fit(kind, matrix, source={"task": task, "texts": len(keys)}, **params)
    except ValueError as err:
        raise ValueError(
            f"task {task}: cannot fit {spec} on its {len(keys)} texts: {err}"
        ) from None
    return dict(zip(keys, state.apply(matrix)))
