"""Subsets of a task: a dev/test split for choosing layers (and k), and seeded samples.

The split is of the task's scored units, never of what a method is fit on: the rows of
single-file tasks, the test rows of classification (train stays whole), the queries of
retrieval (the corpus stays whole). Rows go in pairs, alternately to dev and test (rows 0, 1
dev; 2, 3 test; ...), so WiC's own even/odd threshold split still works inside each half.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reba.eval.tasks import SINGLE, Task

SPLIT_ROLE = {"classification": "test", "retrieval": "queries"}  # the role that is split
PARTS = ("dev", "test")


def split_role(task: Task) -> str:
    return SPLIT_ROLE.get(task.spec.type, SINGLE)


def split(task: Task, part: str) -> Task:
    """The ``dev`` or ``test`` half of ``task``."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    role = split_role(task)
    keep = PARTS.index(part)
    rows = tuple(r for i, r in enumerate(task.rows[role]) if (i // 2) % 2 == keep)
    return replace(task, rows={**task.rows, role: rows})


def sample(task: Task, size: int, seed: int = 0) -> Task:
    """At most ``size`` rows of each role, drawn with ``seed`` and kept in file order.

    Retrieval keeps ``size`` queries and a corpus of their relevant documents plus other
    documents up to ``size`` (or all relevant ones, if more)."""
    if task.spec.type == "retrieval":
        return _sample_retrieval(task, size, seed)
    rows = {role: _draw(rows, size, seed) for role, rows in task.rows.items()}
    return replace(task, rows=rows)


def _draw(rows: tuple, size: int, seed: int) -> tuple:
    if len(rows) <= size:
        return rows
    picked = np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))
    return tuple(rows[i] for i in picked)


def _sample_retrieval(task: Task, size: int, seed: int) -> Task:
    queries = _draw(task.rows["queries"], size, seed)
    needed = {doc for q in queries for doc in q["relevant"]}
    relevant = [r for r in task.rows["corpus"] if r["id"] in needed]
    others = tuple(r for r in task.rows["corpus"] if r["id"] not in needed)
    extra = _draw(others, max(0, size - len(relevant)), seed)
    chosen = {r["id"] for r in relevant} | {r["id"] for r in extra}
    corpus = tuple(r for r in task.rows["corpus"] if r["id"] in chosen)
    return replace(task, rows={"corpus": corpus, "queries": queries})
