"""From a search to a decision: each candidate's cost, and the winner as a configuration."""

from __future__ import annotations

from collections.abc import Sequence

from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.eval.costs import measure_cost
from reba.models import LoadedModel
from reba.tune.search import Candidate, Outcome


def embedder_of(
    lm: LoadedModel, candidate: Candidate, model: str, max_length: int | None = None
) -> Embedder:
    """The candidate as an embedder of ``model`` (the name the user gave) on ``lm``: its
    method and k, and its layer (left to the method when it is the method's own);
    ``embedder.config`` is the configuration to save (k and dtype resolved)."""
    cfg = candidate.config
    config = EmbedderConfig(
        model=model,
        method=cfg.method,
        k=cfg.k,
        layer=None if candidate.own_layer else candidate.layer,
        include_prefix=cfg.include_prefix,
        preprocess=cfg.preprocess,
        max_length=max_length,
    )
    return Embedder.from_config(config, model=lm)


def add_costs(
    lm: LoadedModel,
    outcome: Outcome,
    texts: Sequence[str],
    batch_size: int = 16,
    winner_only: bool = False,
) -> None:
    """Time each (method, k) searched (or only the winner's) on ``texts``; every layer costs
    the same forward, so the candidates of one (method, k) share one figure."""
    if not texts:
        return
    measured: dict[tuple, dict] = {}
    for candidate in [outcome.winner] if winner_only else outcome.candidates:
        cfg = candidate.config
        key = (cfg.method, cfg.k, cfg.include_prefix, cfg.preprocess)
        if key not in measured:
            embedder = embedder_of(lm, candidate, lm.name)
            measured[key] = measure_cost(embedder, texts, batch_size)
        candidate.cost = measured[key]
