"""The search of ``reba tune``: methods x layers x k on the user's data, chosen on dev rows and
reported on held-back rows.

Every task is split into a dev and a test half (``reba.eval.splits``, as ``reba eval --layers
dev`` does). Each candidate configuration is scored on every dev half; the candidate with the
best mean dev score wins, and every candidate's test-half score (with a bootstrap standard
error) is reported, never used to choose. With ``label_free``, labelled tasks are searched as
if they had no labels: the choice is by the label-free criterion (``reba.eval.evaluators.
LabelFreeEvaluator``) on the dev halves' texts, and the labels only score the choice. The
criterion is minus (alignment + uniformity) by default, or one of ``reba eval --layers free``'s
(``reba.eval.layer_criteria``: dataset entropy, TwoNN intrinsic dimension) on the vectors of the
dev halves' texts.

The grid is searched one stage at a time, in the order the methods are given; a stage is the
methods that read the same model input (``stages``: mean, Echo and ReBA all read the repeated
text), so one forward pass per input serves every method, k and layer of the stage
(``reba.eval.runner.fill_cache``, as ``reba eval`` shares them). With a time budget, a stage is
not started when the time spent plus the mean time of a stage so far would pass the budget:
the winner is then the best of the methods searched, and the report says so.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from reba.engine import check_method
from reba.eval import layer_criteria, selection, splits
from reba.eval.cache import EmbeddingCache
from reba.eval.grids import GRIDS
from reba.eval.runner import Scorer, fill_cache, sweep_configs, unique_inputs
from reba.eval.tasks import SINGLE, Task, texts_task
from reba.methods import EmbeddingConfig, parse_method
from reba.models import LoadedModel, cache_dir

logger = logging.getLogger(__name__)

# What to run first on a model never tried: the stage-2 leaders of all three models measured
# (results/README.md), best first, then the baselines; the same list as ``reba eval``'s default.
DEFAULT_METHODS = GRIDS["leading"]
DEFAULT_KS = (1, 2, 3)
ALIGN_UNIFORM = "align-uniform"  # the texts evaluator's: minus (alignment + uniformity)
FREE_CRITERIA = (ALIGN_UNIFORM, *layer_criteria.CRITERIA)


@dataclass(frozen=True)
class Grid:
    """What to search: ``layers`` None is each method's own layer plus the dev candidates of
    ``reba eval`` (``reba.eval.selection.dev_layers``); k applies to methods that repeat."""

    methods: tuple[str, ...] = DEFAULT_METHODS
    ks: tuple[int, ...] = DEFAULT_KS
    layers: tuple[int | None, ...] | None = None
    preprocess: str | None = None


@dataclass(frozen=True)
class Budget:
    minutes: float | None = None  # no stage is started that would likely pass it


@dataclass
class Candidate:
    config: EmbeddingConfig
    layer: int  # the layer read (resolved)
    own_layer: bool  # the method's own layer
    dev: float  # mean over tasks of the dev-half scores
    test: float  # mean over tasks of the test-half scores
    se: float  # its bootstrap standard error (tasks independent); NaN without bootstrap
    tasks: dict[str, dict] = field(default_factory=dict)  # task -> dev, test, se
    free_dev: float | None = None  # with label_free: the criterion on the dev halves' texts
    # (signed so that higher is preferred: TwoNN's is minus the dimension)
    cost: dict | None = None  # texts/s and forwards per text (``reba.eval.costs``)
    resamples: dict[str, list] = field(default_factory=dict, repr=False)

    @property
    def label(self) -> str:
        return self.config.label()


@dataclass
class Outcome:
    candidates: list[Candidate]
    winner: Candidate
    criterion: str  # "dev" or "label-free"
    searched: list[str]  # methods searched
    skipped: list[str]  # methods left out by the time budget
    seconds: float
    labelled_choice: Candidate | None = None  # with label_free: the dev argmax, for comparison
    free_criterion: str | None = None  # with label_free: one of FREE_CRITERIA

    @property
    def budget_hit(self) -> bool:
        return bool(self.skipped)


def search(
    lm: LoadedModel,
    tasks: Sequence[Task],
    grid: Grid = Grid(),
    budget: Budget = Budget(),
    *,
    label_free: bool = False,
    criterion: str = ALIGN_UNIFORM,
    bootstrap: int = 200,
    batch_size: int = 16,
    max_length: int | None = None,
    cache_path=None,
    show_progress_bar: bool | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    """Search ``grid`` on ``tasks`` (all of one level) within ``budget``; vectors go to the
    embedding cache of ``reba eval`` (``cache_path``). With ``label_free``, the choice is by
    ``criterion`` (one of ``FREE_CRITERIA``) on the dev halves' texts. ``clock`` measures the
    budget."""
    levels = {t.spec.level for t in tasks}
    if len(levels) != 1:
        raise ValueError("reba tune chooses one configuration: give tasks of one level only")
    level = levels.pop()
    if label_free and level != "sentence":
        raise ValueError("the label-free criterion is for sentence embeddings")
    if criterion not in FREE_CRITERIA:
        raise ValueError(
            f"unknown label-free criterion {criterion!r}; known: {', '.join(FREE_CRITERIA)}"
        )
    if criterion != ALIGN_UNIFORM and not label_free:
        raise ValueError(f"the {criterion} criterion chooses without labels: use label_free")
    halves = {t.name: (splits.split(t, "dev"), splits.split(t, "test")) for t in tasks}
    for name, (dev, test) in halves.items():
        if not all(dev.rows.values()) or not all(test.rows.values()):
            raise ValueError(f"task {name} is too small to split into dev and test halves")
    free = {t.name: _texts_of(halves[t.name][0]) for t in tasks} if label_free else {}
    # minus (alignment + uniformity) embeds each text's deletion view too; the other criteria
    # read the texts' own vectors, which the tasks' inputs hold already
    scored_free = list(free.values()) if criterion == ALIGN_UNIFORM else []
    cache = EmbeddingCache(cache_path or cache_dir() / "embeddings.sqlite")
    scorer = Scorer.of(cache, lm, max_length or lm.max_length, bootstrap)
    inputs = unique_inputs([*tasks, *scored_free])
    candidates, searched, skipped, stage_seconds = [], [], [], []
    start = clock()
    try:
        for stage in stages(grid.methods):
            if _would_pass(budget, clock() - start, stage_seconds):
                skipped += stage
                continue
            stage_start = clock()
            configs = {method: _configs(lm, method, grid, level) for method in stage}
            prints = {
                cfg: fp
                for _, method_prints in configs.values()
                for cfg, fp in method_prints.items()
            }
            fill_cache(lm, scorer, prints, inputs, level, batch_size, show_progress_bar)
            for own, method_prints in configs.values():
                for cfg, fingerprint in method_prints.items():
                    candidates.append(
                        _candidate(scorer, cfg, fingerprint, own, tasks, halves, free, criterion)
                    )
            stage_seconds.append(clock() - stage_start)
            searched += stage
    finally:
        cache.close()
    if not candidates:
        raise ValueError(f"no method of {', '.join(grid.methods)} has a {level}-level form")
    if skipped:
        logger.warning("time budget reached: %s not searched", ", ".join(skipped))
    by_dev = candidates[selection.best({i: c.dev for i, c in enumerate(candidates)})]
    winner = (
        candidates[selection.best({i: c.free_dev for i, c in enumerate(candidates)})]
        if label_free
        else by_dev
    )
    return Outcome(
        candidates=candidates,
        winner=winner,
        criterion="label-free" if label_free else "dev",
        searched=searched,
        skipped=skipped,
        seconds=round(clock() - start, 1),
        labelled_choice=by_dev if label_free and not _all_unlabelled(tasks) else None,
        free_criterion=criterion if label_free else None,
    )


def _all_unlabelled(tasks: Sequence[Task]) -> bool:
    return all(t.spec.type == "texts" for t in tasks)


def _would_pass(budget: Budget, spent: float, stage_seconds: list[float]) -> bool:
    """Whether one more stage, taking the mean time of those so far, would pass the budget
    (the first stage always runs)."""
    if budget.minutes is None or not stage_seconds:
        return False
    return spent + float(np.mean(stage_seconds)) > budget.minutes * 60


def _texts_of(task: Task) -> Task:
    """The distinct texts of a task, as a task without labels (an unlabelled task's own texts,
    not the deletion views its evaluator adds)."""
    from reba.eval.evaluators import evaluator_for

    if task.spec.type == "texts":
        texts = list(dict.fromkeys(row["text"] for row in task.rows[SINGLE]))
    else:
        inputs = evaluator_for(task.spec).inputs(task)
        texts = [x for x in inputs if isinstance(x, str) and x.strip()]
    return texts_task(f"{task.name} (texts)", texts)


def _free_score(scorer: Scorer, fingerprint: dict, texts: Task, criterion: str) -> float:
    """The label-free ``criterion`` of one configuration on ``texts`` (higher is preferred)."""
    if criterion == ALIGN_UNIFORM:
        return scorer.score(fingerprint, texts, bootstrap=False)["value"]
    found = scorer.vectors(fingerprint, texts)  # then the texts' own, not their views
    vectors = [found[row["text"]] for row in texts.rows[SINGLE] if row["text"] in found]
    if len(vectors) < 3:
        return math.nan  # too few texts embedded (the others failed): not a candidate
    return layer_criteria.layer_score(criterion, np.stack(vectors))


def stages(methods: Sequence[str]) -> list[list[str]]:
    """The methods grouped by model input (same inputs and intervention: one forward pass per
    text serves them all, every k and every layer), in order of first appearance."""
    groups: dict[tuple, list[str]] = {}
    for name in methods:
        recipe = parse_method(name.removesuffix("+prefix")).recipe
        groups.setdefault((recipe.input_specs(), recipe.intervention), []).append(name)
    return list(groups.values())


def _configs(lm, method: str, grid: Grid, level) -> tuple[int, dict[EmbeddingConfig, dict]]:
    """The method's own layer, and its configurations (one per distinct fingerprint, each with
    an explicit layer) with their fingerprints."""
    own = check_method(lm, EmbeddingConfig(method, 1, None), level).layer
    layers = (
        grid.layers if grid.layers is not None else (None, *selection.dev_layers(lm.num_layers))
    )
    depth = lm.num_layers + 1  # hidden states: the embeddings' and each layer's output
    wrong = [layer for layer in layers if layer is not None and not -depth <= layer < depth]
    if wrong:
        raise ValueError(
            f"layer {wrong[0]} does not exist in {lm.name}: its hidden states are 0..{depth - 1}"
            f" (or -{depth}..-1)"
        )
    explicit = sorted({own if layer is None else layer % depth - depth for layer in layers})
    prints = {}
    seen = set()
    for cfg in sweep_configs([method], grid.ks, explicit, level, grid.preprocess):
        fingerprint = check_method(lm, cfg, level).fingerprint()
        key = json.dumps(fingerprint, sort_keys=True)
        if key not in seen:
            seen.add(key)
            prints[cfg] = fingerprint
    return own, prints


def _candidate(
    scorer: Scorer, cfg, fingerprint: dict, own: int, tasks, halves, free, criterion
) -> Candidate:
    """Scores of one configuration: dev and test halves of every task (and, with ``free``,
    the label-free criterion on the dev halves' texts)."""
    per_task, resamples = {}, {}
    for task in tasks:
        dev, test = halves[task.name]
        on_test = scorer.score(fingerprint, task, test)
        per_task[task.name] = {
            "metric": on_test["metric"],
            "dev": scorer.score(fingerprint, task, dev, bootstrap=False)["value"],
            "test": on_test["value"],
            "se": on_test["extra"].get("se", math.nan),
        }
        if task.name in free:
            on_texts = _free_score(scorer, fingerprint, free[task.name], criterion)
            per_task[task.name]["free_dev"] = on_texts
        resamples[task.name] = on_test["extra"].get("resamples")
    return Candidate(
        config=cfg,
        layer=fingerprint["layer"],
        own_layer=fingerprint["layer"] == own,
        dev=_mean([v["dev"] for v in per_task.values()]),
        test=_mean([v["test"] for v in per_task.values()]),
        se=combined_se([v["se"] for v in per_task.values()]),
        tasks=per_task,
        free_dev=_mean([v["free_dev"] for v in per_task.values()]) if free else None,
        resamples=resamples,
    )


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def combined_se(errors: Sequence[float]) -> float:
    """The standard error of a mean of ``len(errors)`` independent scores."""
    return math.sqrt(sum(e * e for e in errors)) / len(errors) if errors else math.nan


def paired_difference(a: Candidate, b: Candidate) -> tuple[float, float]:
    """``a.test - b.test`` and its paired bootstrap standard error: both were scored on the
    same resamples of the same test units (``reba.eval.metrics.bootstrap``), so the error of
    the difference is that of the per-resample differences, averaged over tasks."""
    diffs = []
    for task, left in a.resamples.items():
        right = b.resamples.get(task)
        if not left or not right:
            return a.test - b.test, math.nan
        diffs.append(np.array(left, dtype=float) - np.array(right, dtype=float))
    mean_diff = np.nanmean(np.stack(diffs), axis=0) if diffs else np.array([])
    finite = mean_diff[np.isfinite(mean_diff)]
    se = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    return a.test - b.test, se
