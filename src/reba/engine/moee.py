"""MoEE in the engine: checks before any forward, the vector's dimension, and the last step
of a run (z-scores, then the combination; ``reba.moee``). The engine pools the raw
``[HS, RW]`` of each text (``routers.routing_vector``); this module turns a run's rows into
MoEE's vectors."""

from __future__ import annotations

import dataclasses
import logging

from reba.engine.result import EmbedResult
from reba.engine.routers import check_routers, routing_width
from reba.methods import Method
from reba.models import LoadedModel
from reba.moee import combined, standardised
from reba.postprocess.files import load_state
from reba.postprocess.state import PostState

logger = logging.getLogger(__name__)


def check_moee(lm: LoadedModel, method: Method) -> None:
    """Refuse MoEE where it is not defined (no routers, word level, statistics not chosen or
    not fitting this model); a fitted statistics folder is read and its digest checked."""
    part, label = method.recipe.moee, method.config.label()
    check_routers(lm, part, label)
    if method.level != "sentence":
        raise ValueError(f"{label}: MoEE is sentence-level only (router weights of the last token)")
    if part.stats == "":
        raise ValueError(
            f"{label}: MoEE z-scores each dimension with statistics fitted once on a corpus: "
            "fit them on texts like yours with reba.moee.fit_stats(model, texts, DIR, "
            f"method={method.name!r}) and use the method it returns (…moee[stats=DIR]); or "
            "moee[stats=batch] for the authors' per-batch statistics (a vector then depends on "
            "the texts embedded with it), or moee[stats=none]"
        )
    if part.fitted:
        statistics(lm, method)


def moee_dimension(lm: LoadedModel, method: Method) -> int:
    """The routing vector's dimension (0 for methods without MoEE)."""
    return 0 if method.recipe.moee is None else routing_width(lm)


def statistics(lm: LoadedModel, method: Method) -> PostState | None:
    """The fitted z-score statistics of ``method`` (None when it has none), checked against
    this model's ``[HS, RW]`` width."""
    part = method.recipe.moee
    if not part.fitted:
        return None
    state = load_state(part.stats, dim=lm.dimension + routing_width(lm))
    if state.kind != "zscore":
        raise ValueError(f"{part.stats}: MoEE needs z-score statistics, this is {state.kind!r}")
    fitted_for = state.source.get("model")
    if fitted_for not in (None, lm.name):
        logger.warning("%s: statistics fitted on %s, used on %s", part.stats, fitted_for, lm.name)
    return state


def finish_moee(lm: LoadedModel, method: Method, result: EmbedResult) -> EmbedResult:
    """A run's raw ``[HS, RW]`` rows z-scored and combined as ``method``'s MoEE part says."""
    part = method.recipe.moee
    z = standardised(result.embeddings, part, statistics(lm, method))
    return dataclasses.replace(result, embeddings=combined(z, lm.dimension, part))
