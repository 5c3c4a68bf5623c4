"""Evaluators: for each task type, which inputs need an embedding and how to score them.

An evaluator never guesses: an item whose inputs cannot be built (a word missing from its
sentence) or whose embeddings are missing or not finite is skipped, counted and reported.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from reba.eval import augment, metrics
from reba.eval.tasks import SINGLE, Row, Task, TaskSpec

MAX_SKIPPED_EXAMPLES = 20


@dataclass(frozen=True)
class WordInput:
    """A target word inside a text: characters [span[0], span[1]) of `text`."""

    text: str
    span: tuple[int, int]

    def __post_init__(self) -> None:
        start, end = self.span
        if not 0 <= start < end <= len(self.text):
            raise ValueError(f"span {self.span} is not inside a text of {len(self.text)} chars")


Input = str | WordInput
Embed = Callable[[list[Input]], Mapping[Input, np.ndarray]]


@dataclass
class TaskScore:
    task: str
    metric: str
    value: float
    extra: dict[str, Any]
    n_items: int
    n_scored: int
    n_skipped: int
    # The first MAX_SKIPPED_EXAMPLES skipped items as (row index, reason); for tasks with
    # several files the reason starts with the role ("test: ...") the index refers to.
    skipped: list[tuple[int, str]] = field(default_factory=list)


class SkipLog:
    """Counts skipped rows and keeps the first MAX_SKIPPED_EXAMPLES as examples."""

    def __init__(self, multi_role: bool) -> None:
        self.multi_role = multi_role
        self.count = 0
        self.examples: list[tuple[int, str]] = []

    def add(self, role: str, index: int, reason: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_SKIPPED_EXAMPLES:
            self.examples.append((index, f"{role}: {reason}" if self.multi_role else reason))


# Rows that could be scored: (row index, row, float64 vectors of its inputs stacked).
Scored = list[tuple[int, Row, np.ndarray]]


def _describe(item: Input) -> str:
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."


def _stack(inputs: tuple[Input, ...], embeddings: Mapping[Input, np.ndarray]) -> np.ndarray | str:
    """The inputs' vectors as one float64 array, or the reason the item must be skipped."""
    vectors = []
    for item in inputs:
        vector = embeddings.get(item)
        if vector is None:
            return f"no embedding for {_describe(item)}"
        vector = np.asarray(vector, dtype=np.float64)
        if vector.ndim != 1 or not np.isfinite(vector).all():
            return f"embedding of {_describe(item)} is not a finite vector"
        vectors.append(vector)
    return np.stack(vectors)


@dataclass(frozen=True)
class Units:
    """What a bootstrap resamples: ``count`` units (rows, queries, questions) and the metric
    of any multiset of them, given as indices."""

    count: int
    metric: Callable[[np.ndarray], float]


def _mean_of(values) -> Units:
    values = np.asarray(values, dtype=np.float64)
    return Units(len(values), lambda idx: float(values[idx].mean()))


class Evaluator(ABC):
    metric: ClassVar[str]
    units: Units | None = None  # set by ``compute``: the bootstrap's units

    @abstractmethod
    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        """The inputs one row needs, or (a str) why the row cannot be embedded."""

    @abstractmethod
    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        """The metric value and extra numbers from the scorable rows of every role."""

    def inputs(self, task: Task) -> list[Input]:
        """The unique inputs needing an embedding, in first-use order."""
        unique: dict[Input, None] = {}
        for role, rows in task.rows.items():
            for row in rows:
                item = self.item_inputs(role, row)
                if not isinstance(item, str):
                    unique.update(dict.fromkeys(item))
        return list(unique)

    def score(
        self, task: Task, embeddings: Mapping[Input, np.ndarray], bootstrap: int = 0
    ) -> TaskScore:
        """Score ``task``; with ``bootstrap`` resamples of its units, ``extra["se"]`` is the
        standard error of the score and ``extra["resamples"]`` the resampled scores."""
        skips = SkipLog(multi_role=len(task.rows) > 1)
        scored: dict[str, Scored] = {}
        for role, rows in task.rows.items():
            scored[role] = []
            for index, row in enumerate(rows):
                item = self.item_inputs(role, row)
                vectors = item if isinstance(item, str) else _stack(item, embeddings)
                if isinstance(vectors, str):
                    skips.add(role, index, vectors)
                else:
                    scored[role].append((index, row, vectors))
        if all(scored.values()):
            value, extra = self.compute(scored, skips)
            if bootstrap and self.units is not None:
                values = metrics.bootstrap(self.units.metric, self.units.count, bootstrap)
                extra["se"] = metrics.standard_error(values)
                extra["units"] = self.units.count  # paired comparisons need equal units
                extra["resamples"] = [round(v, 5) if v == v else None for v in values]
        else:
            value, extra = float("nan"), {"error": "a role has no scorable rows"}
        n_items = sum(len(rows) for rows in task.rows.values())
        return TaskScore(
            task=task.name,
            metric=self.metric,
            value=float(value),
            extra=extra,
            n_items=n_items,
            n_scored=n_items - skips.count,
            n_skipped=skips.count,
            skipped=skips.examples,
        )


def _column(scored: Scored, key: str) -> np.ndarray:
    return np.array([row[key] for _, row, _ in scored])


def _vectors(scored: Scored, position: int) -> np.ndarray:
    return np.stack([vectors[position] for _, _, vectors in scored])


class OddOneOutEvaluator(Evaluator):
    metric = "accuracy"

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        word, inputs = row["word"], []
        for j, sentence in enumerate(row["sentences"]):
            start = sentence.find(word)
            if start < 0:
                return f"word {word!r} does not occur in sentence {j}"
            inputs.append(WordInput(sentence, (start, start + len(word))))
        return tuple(inputs)

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        rows = scored[SINGLE]
        distance, cosine = metrics.odd_one_out_predictions(np.stack([v for _, _, v in rows]))
        answers = _column(rows, "answer")
        accuracy_distance = float(np.mean(distance == answers))
        accuracy_cosine = float(np.mean(cosine == answers))
        self.units = _mean_of(distance == answers)
        extra = {"accuracy_distance": accuracy_distance, "accuracy_cosine": accuracy_cosine}
        return accuracy_distance, extra


class WicEvaluator(Evaluator):
    """Threshold fit on the even rows of the file (0, 2, ...), accuracy on the odd rows."""

    metric = "accuracy"

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (
            WordInput(row["s1"], tuple(row["span1"])),
            WordInput(row["s2"], tuple(row["span2"])),
        )

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        rows = scored[SINGLE]
        similarity = metrics.paired_cosine(_vectors(rows, 0), _vectors(rows, 1))
        labels = _column(rows, "label")
        fit = np.array([index % 2 == 0 for index, _, _ in rows])
        if fit.all() or not fit.any():
            return float("nan"), {"error": "one half of the even/odd split is empty"}
        threshold, fit_accuracy = metrics.best_threshold_accuracy(similarity[fit], labels[fit])
        accuracy = metrics.threshold_accuracy(similarity[~fit], labels[~fit], threshold)
        self.units = _mean_of((similarity[~fit] >= threshold) == labels[~fit].astype(bool))
        extra = {
            "threshold": threshold,
            "fit_accuracy": fit_accuracy,
            "n_fit": int(fit.sum()),
            "n_eval": int((~fit).sum()),
            "split": "threshold fit on even rows, accuracy on odd rows",
        }
        return accuracy, extra


class _PairEvaluator(Evaluator):
    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["s1"], row["s2"])

    def similarity(self, scored: dict[str, Scored]) -> np.ndarray:
        return metrics.paired_cosine(_vectors(scored[SINGLE], 0), _vectors(scored[SINGLE], 1))


class StsEvaluator(_PairEvaluator):
    metric = "cosine_spearman"

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        similarity, gold = self.similarity(scored), _column(scored[SINGLE], "score")
        self.units = Units(len(gold), lambda idx: metrics.spearman(similarity[idx], gold[idx]))
        return metrics.spearman(similarity, gold), {}


class PairClassificationEvaluator(_PairEvaluator):
    metric = "cosine_ap"

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        labels, similarity = _column(scored[SINGLE], "label"), self.similarity(scored)
        self.units = Units(len(labels), lambda idx: _ap(similarity[idx], labels[idx]))
        return metrics.average_precision(similarity, labels), {}


@dataclass
class ClassificationEvaluator(Evaluator):
    metric: ClassVar[str] = "accuracy"
    seed: int = 0
    max_iter: int = 1000

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["text"],)

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        train, test = scored["train"], scored["test"]
        predicted = metrics.logistic_regression_predictions(
            _vectors(train, 0),
            _column(train, "label"),
            _vectors(test, 0),
            seed=self.seed,
            max_iter=self.max_iter,
        )
        correct = predicted == _column(test, "label")
        self.units = _mean_of(correct)
        return float(correct.mean()), {"n_train": len(train), "n_test": len(test)}


@dataclass
class ClusteringEvaluator(Evaluator):
    metric: ClassVar[str] = "v_measure"
    seed: int = 0
    n_init: int = 10

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["text"],)

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        rows = scored[SINGLE]
        labels = _column(rows, "label")
        clusters = metrics.kmeans_clusters(
            _vectors(rows, 0), labels, seed=self.seed, n_init=self.n_init
        )
        # The bootstrap resamples items with their clusters (k-means is not refit).
        self.units = Units(len(labels), lambda idx: metrics.v_measure(labels[idx], clusters[idx]))
        return metrics.v_measure(labels, clusters), {"n_clusters": len(np.unique(labels))}


class RetrievalEvaluator(Evaluator):
    """nDCG@10 over the embedded corpus; a query whose relevant document is missing is skipped."""

    metric = "ndcg_at_10"

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["text"],) if role == "corpus" else (row["query"],)

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        corpus = scored["corpus"]
        position = {row["id"]: j for j, (_, row, _) in enumerate(corpus)}
        queries, relevant = [], []
        for index, row, vectors in scored["queries"]:
            missing = [doc for doc in row["relevant"] if doc not in position]
            if missing:
                skips.add("queries", index, f"relevant {missing[0]!r} not in the embedded corpus")
            else:
                queries.append(vectors[0])
                relevant.append({position[doc] for doc in row["relevant"]})
        if not queries:
            return float("nan"), {"error": "no query has all its relevant documents embedded"}
        scores = metrics.cosine_matrix(np.stack(queries), _vectors(corpus, 0))
        per_query = metrics.ndcg_per_query(scores, relevant, k=10)
        self.units = _mean_of(per_query)
        return float(per_query.mean()), {"n_queries": len(queries)}


class RerankingEvaluator(Evaluator):
    metric = "map"

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["query"], *row["positive"], *row["negative"])

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        scores, labels = [], []
        for _, row, vectors in scored[SINGLE]:
            scores.append(metrics.cosine_matrix(vectors[:1], vectors[1:])[0])
            labels.append([1] * len(row["positive"]) + [0] * len(row["negative"]))
        self.units = _mean_of([metrics.average_precision(s, y) for s, y in zip(scores, labels)])
        return metrics.mean_average_precision(scores, labels), {}


class LabelFreeEvaluator(Evaluator):
    """Texts without labels: minus (alignment + uniformity), Wang & Isola 2020 (arXiv
    2005.10242) with their alpha = 2, t = 2 and weights 1, 1; the positive pair of a text is
    its random-deletion view (``reba.eval.augment``). Higher is better. No bootstrap:
    uniformity is over pairs of distinct texts, which a resample with repeats would bias."""

    metric = "neg_align_uniform"

    def item_inputs(self, role: str, row: Row) -> tuple[Input, ...] | str:
        return (row["text"], augment.random_deletion(row["text"]))

    def compute(self, scored: dict[str, Scored], skips: SkipLog) -> tuple[float, dict[str, Any]]:
        rows = scored[SINGLE]
        align = metrics.alignment(_vectors(rows, 0), _vectors(rows, 1))
        uniform = metrics.uniformity(_vectors(rows, 0))
        return -(align + uniform), {"alignment": align, "uniformity": uniform}


def _ap(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision, NaN for a resample holding one class only."""
    return metrics.average_precision(scores, labels) if 0 < labels.sum() < len(labels) else np.nan


EVALUATORS: dict[str, type[Evaluator]] = {
    "word_odd_one_out": OddOneOutEvaluator,
    "wic": WicEvaluator,
    "sts": StsEvaluator,
    "pair_classification": PairClassificationEvaluator,
    "classification": ClassificationEvaluator,
    "clustering": ClusteringEvaluator,
    "retrieval": RetrievalEvaluator,
    "reranking": RerankingEvaluator,
    "texts": LabelFreeEvaluator,
}


def evaluator_for(spec: TaskSpec) -> Evaluator:
    """A default-configured evaluator for the task's type."""
    return EVALUATORS[spec.type]()


def evaluate_task(task: Task, embed: Embed) -> TaskScore:
    """Embed the task's inputs with `embed` and score them."""
    evaluator = evaluator_for(task.spec)
    inputs = evaluator.inputs(task)
    return evaluator.score(task, embed(inputs) if inputs else {})
