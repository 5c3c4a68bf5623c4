"""Evaluators on slices of the real files: input lists, skipping, and scores with fake vectors.

"Oracle" vectors are built from the gold labels so that the metric must reach its maximum;
conflicting rows (an input shared by rows that want different vectors) are left out.
"""

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from reba.eval import Task, WordInput, evaluate_task, evaluator_for, load_task, load_task_specs

DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)
L = 40  # rows per role in oracle slices; vectors live in 2 * L dimensions


def hash_vector(item: object) -> np.ndarray:
    digest = hashlib.sha256(repr(item).encode("utf-8")).digest()
    return (np.frombuffer(digest, dtype=np.uint8).astype(np.float32) - 127.5) / 128


def hash_embed(inputs: list) -> dict:
    return {item: hash_vector(item) for item in inputs}


def e(i: int, dim: int = 2 * L) -> np.ndarray:
    vector = np.zeros(dim, dtype=np.float32)
    vector[i] = 1.0
    return vector


VectorsFor = Callable[[str, int, dict], list[np.ndarray]]


def oracle(task: Task, vectors_for: VectorsFor, limit: int = L) -> tuple[Task, dict]:
    """Keep up to `limit` rows per role whose wanted vectors agree with earlier rows."""
    evaluator = evaluator_for(task.spec)
    embeddings: dict = {}
    rows: dict = {}
    for role, role_rows in task.rows.items():
        kept: list = []
        for row in role_rows:
            if len(kept) == limit:
                break
            item = evaluator.item_inputs(role, row)
            if isinstance(item, str):  # unembeddable rows stay, to be counted as skipped
                kept.append(row)
                continue
            wanted: dict = {}
            for x, v in zip(item, vectors_for(role, len(kept), row), strict=True):
                if not np.array_equal(wanted.setdefault(x, v), v):
                    break
            else:
                if all(np.array_equal(embeddings.get(x, v), v) for x, v in wanted.items()):
                    embeddings.update(wanted)
                    kept.append(row)
        rows[role] = tuple(kept)
    return replace(task, rows=rows), embeddings


@pytest.fixture(scope="module")
def tasks() -> dict[str, Task]:
    return {name: load_task(DATA_DIR, name) for name in load_task_specs(DATA_DIR)}


def test_slpwc_inputs_are_first_occurrences(tasks):
    task = tasks["zh_SLPWC"]
    inputs = evaluator_for(task.spec).inputs(task)
    expected = {
        (s, s.find(r["word"]), s.find(r["word"]) + len(r["word"]))
        for r in task.rows["data"]
        for s in r["sentences"]
    }
    assert len(task.rows["data"]) == 300
    assert len(inputs) == len(set(inputs)) == len(expected)
    assert {(x.text, *x.span) for x in inputs} == expected
    first = task.rows["data"][0]
    assert inputs[0] == WordInput(first["sentences"][0], (2, 4))  # 配方 in 通过配方，...


def test_wsd_items_without_the_word_are_skipped_never_guessed(tasks):
    task = tasks["zh_WSD"]
    lines = (DATA_DIR / "word" / "zh_WSD.jsonl").read_text(encoding="utf-8").splitlines()
    absent = [
        i
        for i, line in enumerate(lines)
        if not all(json.loads(line)["word"] in s for s in json.loads(line)["sentences"])
    ]
    assert absent == [12, 220, 559, 648]
    score = evaluate_task(task, hash_embed)
    assert (score.n_items, score.n_scored, score.n_skipped) == (862, 858, 4)
    assert [index for index, _ in score.skipped] == absent
    assert score.skipped[0][1] == "word '名称' does not occur in sentence 1"
    words = {w.text for w in evaluator_for(task.spec).inputs(task)}
    assert "精选人物" not in words  # row 559's sentence 0, which lacks 精简


def test_odd_one_out_oracle(tasks):
    def vectors_for(role, i, row):
        return [e(i) + (3 * e(L + i) if j == row["answer"] else 0) for j in range(4)]

    for name in ("zh_SLPWC", "zh_WSD"):
        task, embeddings = oracle(tasks[name], vectors_for)
        score = evaluator_for(task.spec).score(task, embeddings)
        assert score.extra == {"accuracy_distance": 1.0, "accuracy_cosine": 1.0}
        assert score.value == 1.0
    assert score.n_skipped == 1  # row 12 of zh_WSD is within the first 40 rows


def test_wic_oracle(tasks):
    def vectors_for(role, i, row):
        return [e(i), e(i) if row["label"] == 1 else e(L + i)]

    task, embeddings = oracle(tasks["en_WiC_dev"], vectors_for)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert score.value == 1.0
    assert (score.extra["n_fit"], score.extra["n_eval"]) == (20, 20)
    assert 0.0 < score.extra["threshold"] < 1.0


def test_sts_oracle(tasks):
    def vectors_for(role, i, row):
        angle = (5.0 - row["score"]) / 5.0 * math.pi / 2  # zh_STSB scores run 0-5
        return [e(i), math.cos(angle) * e(i) + math.sin(angle) * e(L + i)]

    task, embeddings = oracle(tasks["zh_STSB"], vectors_for)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert (score.metric, score.value) == ("cosine_spearman", pytest.approx(1.0))


def test_sts_reversed_oracle_scores_minus_one(tasks):
    def vectors_for(role, i, row):
        angle = row["score"] / 5.0 * math.pi / 2
        return [e(i), math.cos(angle) * e(i) + math.sin(angle) * e(L + i)]

    task, embeddings = oracle(tasks["zh_STSB"], vectors_for)
    assert evaluator_for(task.spec).score(task, embeddings).value == pytest.approx(-1.0)


def test_pair_classification_oracle(tasks):
    def vectors_for(role, i, row):
        return [e(i), e(i) if row["label"] == 1 else e(L + i)]

    task, embeddings = oracle(tasks["en_MRPC"], vectors_for)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert (score.metric, score.value) == ("cosine_ap", 1.0)


def _label_vectors(labels: list) -> VectorsFor:
    index = {label: k for k, label in enumerate(sorted(set(labels)))}
    return lambda role, i, row: [e(index[row["label"]], len(index))]


def test_classification_oracle(tasks):
    task = tasks["zh_eprstmt"]
    vectors_for = _label_vectors([r["label"] for r in task.rows["train"]])
    task, embeddings = oracle(task, vectors_for)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert score.value == 1.0
    assert score.extra == {"n_train": L, "n_test": L}


def test_clustering_oracle(tasks):
    task = tasks["zh_CSLDCP"]
    task, embeddings = oracle(task, _label_vectors([r["label"] for r in task.rows["data"]]))
    score = evaluator_for(task.spec).score(task, embeddings)
    assert score.value == pytest.approx(1.0)
    assert score.extra["n_clusters"] == len({r["label"] for r in task.rows["data"]})


def _retrieval_slice(task: Task) -> Task:
    queries = task.rows["queries"][:L]
    wanted = {doc for q in queries for doc in q["relevant"]}
    corpus = [d for i, d in enumerate(task.rows["corpus"]) if d["id"] in wanted or i < L]
    return replace(task, rows={"corpus": tuple(corpus), "queries": queries})


def test_retrieval_oracle_and_missing_relevant_document(tasks):
    task = _retrieval_slice(tasks["zh_CMRC"])
    docs = {d["id"]: hash_vector(d["text"]) for d in task.rows["corpus"]}
    embeddings = {d["text"]: docs[d["id"]] for d in task.rows["corpus"]}
    embeddings |= {q["query"]: docs[q["relevant"][0]] for q in task.rows["queries"]}
    score = evaluator_for(task.spec).score(task, embeddings)
    assert (score.metric, score.value, score.n_skipped) == ("ndcg_at_10", 1.0, 0)

    lost = task.rows["queries"][3]["relevant"][0]
    lost_text = next(d["text"] for d in task.rows["corpus"] if d["id"] == lost)
    del embeddings[lost_text]
    score = evaluator_for(task.spec).score(task, embeddings)
    assert score.n_skipped == 2  # the document itself and query 3 that needs it
    assert score.skipped[1] == (3, f"queries: relevant '{lost}' not in the embedded corpus")
    assert score.value == 1.0 and score.extra["n_queries"] == L - 1


def test_reranking_oracle(tasks):
    def vectors_for(role, i, row):
        positives = [e(i)] * len(row["positive"])
        return [e(i), *positives] + [e(L + i)] * len(row["negative"])

    task, embeddings = oracle(tasks["en_TRECQA"], vectors_for)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert (score.metric, score.value, score.n_scored) == ("map", 1.0, L)


def test_missing_or_non_finite_embedding_skips_the_item(tasks):
    task = replace(tasks["zh_tnews"], rows={r: v[:30] for r, v in tasks["zh_tnews"].rows.items()})
    embeddings = hash_embed(evaluator_for(task.spec).inputs(task))
    del embeddings[task.rows["test"][5]["text"]]
    embeddings[task.rows["train"][2]["text"]] = np.full(32, np.nan, dtype=np.float32)
    score = evaluator_for(task.spec).score(task, embeddings)
    assert (score.n_items, score.n_scored, score.n_skipped) == (60, 58, 2)
    assert score.skipped[0][0] == 2 and "train: embedding of" in score.skipped[0][1]
    assert score.skipped[1][0] == 5 and score.skipped[1][1].startswith("test: no embedding")
    assert score.extra == {"n_train": 29, "n_test": 29}


def test_nothing_embedded_gives_nan_not_a_guess(tasks):
    score = evaluator_for(tasks["en_STSB"].spec).score(tasks["en_STSB"], {})
    assert math.isnan(score.value) and score.n_skipped == score.n_items == 1379
    assert len(score.skipped) == 20


def test_every_task_scores_with_hash_vectors(tasks):
    calls = []

    def embed(inputs):
        calls.append(inputs)
        return hash_embed(inputs)

    for name, task in tasks.items():
        score = evaluate_task(task, embed)
        assert len(calls[-1]) == len(set(calls[-1]))
        assert score.task == name
        assert score.n_scored + score.n_skipped == score.n_items
        assert score.n_skipped == (4 if name == "zh_WSD" else 0)
        assert -1.0 <= score.value <= 1.0, name
        if task.spec.type != "sts":
            assert score.value >= 0.0, name
