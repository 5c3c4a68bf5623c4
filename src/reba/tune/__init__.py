"""``reba tune``: the leaderboard turned into a decision for one model and one user's data.

``tune`` searches methods x layers x k (``reba.tune.search``) on labelled tasks or unlabelled
texts (``reba.tune.data``), times the candidates (``reba.tune.decide``), writes the winner's
configuration and a report of every candidate (``reba.tune.report``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reba.config import EmbedderConfig
from reba.eval.tasks import Task
from reba.models import LoadedModel
from reba.tune.data import labelled_tasks, unlabelled_task, within_budget
from reba.tune.decide import add_costs, embedder_of
from reba.tune.report import document, write_report
from reba.tune.search import DEFAULT_KS, DEFAULT_METHODS, Budget, Grid, Outcome, search

__all__ = [
    "DEFAULT_KS",
    "DEFAULT_METHODS",
    "Budget",
    "Grid",
    "Outcome",
    "labelled_tasks",
    "search",
    "tune",
    "unlabelled_task",
]


def tune(
    lm: LoadedModel,
    tasks: Sequence[Task],
    out: str | Path,
    *,
    model: str | None = None,
    grid: Grid | None = None,
    budget: Budget | None = None,
    budget_texts: int | None = None,
    label_free: bool = False,
    criterion: str = "align-uniform",
    bootstrap: int = 200,
    cost_texts: int = 32,
    seed: int = 0,
    batch_size: int = 16,
    max_length: int | None = None,
    cache_path: str | Path | None = None,
    show_progress_bar: bool | None = None,
) -> tuple[EmbedderConfig, dict, list[Path]]:
    """Search, choose, time; write the winner's configuration to ``out`` (for
    ``Embedder.from_config`` / ``--config``) and its report beside it. Returns the
    configuration, the report document and the files written."""
    grid, budget = grid or Grid(), budget or Budget()
    Path(out).parent.mkdir(parents=True, exist_ok=True)  # before the work, not after it
    tasks = within_budget(tasks, budget_texts, seed)
    outcome = search(
        lm,
        tasks,
        grid,
        budget,
        label_free=label_free,
        criterion=criterion,
        bootstrap=bootstrap,
        batch_size=batch_size,
        max_length=max_length,
        cache_path=cache_path,
        show_progress_bar=show_progress_bar,
    )
    texts = _cost_texts(tasks, cost_texts)
    add_costs(lm, outcome, texts, batch_size)
    config = embedder_of(lm, outcome.winner, model or lm.name, max_length).config
    settings = {
        "grid": {**grid.__dict__, "layers": None if grid.layers is None else list(grid.layers)},
        "budget_minutes": budget.minutes,
        "budget_texts": budget_texts,
        "bootstrap": bootstrap,
        "cost_texts": len(texts),
        "seed": seed,
    }
    doc = document(lm, outcome, config, list(tasks), settings)
    path = config.save(out)
    return config, doc, [path, *write_report(doc, path)]


def _cost_texts(tasks: Sequence[Task], count: int) -> list[str]:
    """The first ``count`` distinct texts of the tasks' test halves (none at word level)."""
    from reba.eval.evaluators import evaluator_for
    from reba.eval.splits import split

    texts: dict[str, None] = {}
    for task in tasks:
        for item in evaluator_for(task.spec).inputs(split(task, "test")):
            if isinstance(item, str) and item.strip():
                texts[item] = None
    return list(texts)[:count]
