"""Read items to embed from plain text, JSONL, CSV or Parquet.

A malformed row never stops a run: it becomes a problem record with its row number, and the
rows around it are still embedded.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

INPUT_FORMATS = (".txt", ".jsonl", ".csv", ".parquet")


@dataclass
class InputRecords:
    """Rows of an input file: the items to embed, their ids, and rows that could not be read."""

    items: list[object]  # a text, or a (text, word|span) pair at word level
    rows: list[int]  # the row number (0-based) of each item in the file
    ids: list[object] | None = None  # the id column's values, when the file has one
    problems: dict[int, str] = field(default_factory=dict)  # row -> what was wrong


def read_inputs(
    path: str | Path,
    *,
    field: str = "text",
    id_field: str | None = "id",
    word_field: str | None = None,
    span_field: str | None = None,
) -> InputRecords:
    """Read ``path``; at word level, ``word_field`` or ``span_field`` names the target column."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise ValueError(f"{path}: unsupported input format {suffix!r}; use one of {INPUT_FORMATS}")
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if suffix == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        return InputRecords(items=list(lines), rows=list(range(len(lines))))
    rows = _rows(path, suffix)
    return _records(rows, field, id_field, word_field, span_field)


def _rows(path: Path, suffix: str) -> list[dict | str]:
    """Each row as a dict, or as a string describing why it could not be parsed."""
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    rows: list[dict | str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            rows.append(f"invalid JSON ({err.msg})")
            continue
        rows.append(value if isinstance(value, dict) else f"expected an object, got {value!r}")
    return rows


def _records(rows, field, id_field, word_field, span_field) -> InputRecords:
    items, numbers, ids, problems = [], [], [], {}
    has_ids = id_field is not None and any(isinstance(r, dict) and id_field in r for r in rows)
    for number, row in enumerate(rows):
        if isinstance(row, str):
            problems[number] = row
            continue
        if field not in row:
            problems[number] = f"no field {field!r} (fields: {', '.join(map(str, row))})"
            continue
        item = row[field]
        if word_field or span_field:
            target, problem = _target(row, word_field, span_field)
            if problem:
                problems[number] = problem
                continue
            item = (item, target)
        items.append(item)
        numbers.append(number)
        ids.append(row.get(id_field) if has_ids else None)
    return InputRecords(items, numbers, ids if has_ids else None, problems)


def _target(row: dict, word_field: str | None, span_field: str | None):
    """``(word or span, None)`` for a word-level row, or ``(None, what is wrong)``."""
    name = word_field or span_field
    if name not in row or row[name] is None:
        return None, f"no field {name!r}"
    value = row[name]
    if word_field:
        return value, None
    if isinstance(value, str):  # CSV cells hold text: "3,7" or "[3, 7]"
        try:
            value = json.loads(value if value.startswith("[") else f"[{value}]")
        except json.JSONDecodeError:
            return None, f"field {name!r} is not a [start, end] span: {value!r}"
    return (tuple(value) if isinstance(value, list) else value), None
