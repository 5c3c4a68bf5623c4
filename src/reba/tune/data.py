"""The data ``reba tune`` chooses on: labelled tasks (a manifest folder, or one file and its
task type) or unlabelled texts (a file of texts), cut down to a budget of texts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reba.eval.evaluators import evaluator_for
from reba.eval.splits import sample
from reba.eval.tasks import TASK_TYPES, Task, file_task, load_task, load_task_specs, texts_task


def labelled_tasks(data: str | Path, names: Sequence[str] = (), task_type: str | None = None):
    """The tasks of a data folder (``names``, default all), or the one file ``data`` of
    ``task_type`` (a single-file type: sts, pair_classification, clustering, ...)."""
    path = Path(data)
    if path.is_dir():
        if task_type:
            raise ValueError(
                f"--type is for a single file; {path} is a folder, whose manifest.json gives "
                "each file's type"
            )
        return [load_task(path, name) for name in names or load_task_specs(path)]
    if not path.exists():
        raise FileNotFoundError(f"data not found: {path}")
    if not task_type:
        raise ValueError(
            f"{path} is a file: give its task type with --type (one of {', '.join(TASK_TYPES)})"
        )
    if names:
        raise ValueError("--tasks chooses among the tasks of a folder; --data names one file")
    return [file_task(path, task_type)]


def unlabelled_task(path: str | Path, field: str = "text") -> Task:
    """A ``texts`` task from a file of texts (.txt, .jsonl, .csv, .parquet; ``field``)."""
    from reba.io.read import read_inputs

    records = read_inputs(path, field=field, id_field=None)
    if records.problems:
        shown = "; ".join(f"row {row}: {why}" for row, why in list(records.problems.items())[:5])
        raise ValueError(f"{path}: {len(records.problems)} row(s) cannot be read: {shown}")
    return texts_task(Path(path).stem, records.items)


def n_inputs(task: Task) -> int:
    """Distinct inputs a configuration embeds for ``task``."""
    return len(evaluator_for(task.spec).inputs(task))


def within_budget(tasks: Sequence[Task], budget_texts: int | None, seed: int = 0) -> list[Task]:
    """Each task sampled (seeded, as ``reba eval --sample``) down to an equal share of
    ``budget_texts`` distinct inputs; unchanged without a budget or when it already fits."""
    if not budget_texts:
        return list(tasks)
    share = budget_texts // len(tasks)
    out = []
    for task in tasks:
        if n_inputs(task) <= share:
            out.append(task)
            continue
        low, high = 1, max(len(rows) for rows in task.rows.values())
        while low < high:  # the most rows whose inputs fit in the share
            mid = (low + high + 1) // 2
            low, high = (
                (mid, high) if n_inputs(sample(task, mid, seed)) <= share else (low, mid - 1)
            )
        cut = sample(task, low, seed)
        if n_inputs(cut) > share:
            raise ValueError(
                f"--budget-texts {budget_texts}: task {task.name} needs {n_inputs(cut)} inputs "
                f"for one row, more than its share ({share}); raise the budget"
            )
        out.append(cut)
    return out
