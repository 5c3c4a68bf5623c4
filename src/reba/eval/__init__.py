"""Evaluation tasks: data loading, task definitions, metrics and scoring (no model code)."""

from reba.eval.evaluators import (
    EVALUATORS,
    Embed,
    Evaluator,
    Input,
    TaskScore,
    WordInput,
    evaluate_task,
    evaluator_for,
)
from reba.eval.tasks import (
    TASK_TYPES,
    Task,
    TaskDataError,
    TaskSpec,
    UnknownTaskError,
    load_task,
    load_task_specs,
)

__all__ = [
    "EVALUATORS",
    "TASK_TYPES",
    "Embed",
    "Evaluator",
    "Input",
    "Task",
    "TaskDataError",
    "TaskScore",
    "TaskSpec",
    "UnknownTaskError",
    "WordInput",
    "evaluate_task",
    "evaluator_for",
    "load_task",
    "load_task_specs",
]
