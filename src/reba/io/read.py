"""Read every row of one input file into memory (the local engine's single-file outputs).

Rows are parsed by ``reba.io.rows``, as every engine does. A malformed row never stops a run: it
becomes a problem record with its row number, and the rows around it are still embedded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reba.io.files import INPUT_FORMATS, list_inputs
from reba.io.rows import Fields, open_records

__all__ = ["INPUT_FORMATS", "InputRecords", "read_inputs"]


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
    """Read one file; at word level, ``word_field`` or ``span_field`` names the target column."""
    fs, files = list_inputs(str(path))
    if len(files) != 1:
        raise ValueError(
            f"{path} names {len(files)} files; write them to a folder (--output without a "
            "suffix) or name one file"
        )
    fields = Fields(field, id_field, word_field, span_field)
    records = InputRecords(items=[], rows=[], ids=[])
    for record in open_records(fs, files[0].path, files[0].format, fields, str(path)):
        if record.problem is not None:
            records.problems[record.row] = record.problem
            continue
        records.items.append(record.item)
        records.rows.append(record.row)
        records.ids.append(record.id)
    if all(i is None for i in records.ids):
        records.ids = None
    return records
