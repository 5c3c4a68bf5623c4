"""Parse one input file, streamed, into numbered records: an item to embed, or what is wrong.

The one parser of every engine: the local engine, the Ray workers and ``read_inputs`` all
number rows the same way, so outputs can be compared and joined back row for row.

Row numbers are 0-based within the file: every line of a ``.txt`` file (an empty line is a row,
and fails as an empty text); every non-blank line of a ``.jsonl`` file; every record of a
``.csv`` file after its header (blank lines skipped, quoted fields may span lines); every row of
a ``.parquet`` file. A malformed row is a record with a ``problem``, never an exception.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_CHUNK = 1 << 20
_BOM = "\ufeff"


@dataclass(frozen=True)
class Fields:
    """Which columns hold the text, the id and, at word level, the target word or span."""

    text: str = "text"
    id: str | None = "id"
    word: str | None = None
    span: str | None = None

    @property
    def level(self) -> str:
        return "word" if (self.word or self.span) else "sentence"

    def columns(self) -> list[str]:
        return [c for c in (self.text, self.id, self.word, self.span) if c]


@dataclass(frozen=True)
class Record:
    """One input row: ``item`` to embed (a text, or a ``(text, word|span)`` pair), or a problem."""

    row: int
    item: object = None
    id: object = None
    problem: str | None = None


def iter_records(source, fmt: str, fields: Fields, name: str = "input") -> Iterator[Record]:
    """The records of an open file: a stream for text formats, a random-access file for Parquet.

    A file that cannot be read at all (not Parquet, unreadable) raises a ``ValueError`` naming
    ``name``; a bad row is only a record with a problem.
    """
    try:
        yield from _records(source, fmt, fields)
    except (OSError, ValueError, csv.Error) as err:  # pyarrow's errors derive from these
        raise ValueError(f"{name}: cannot be read as {fmt} ({err})") from err


def _records(source, fmt: str, fields: Fields) -> Iterator[Record]:
    if fmt == ".parquet":
        yield from _parquet_records(source, fields)
        return
    lines = _lines(source)
    if fmt == ".txt":
        for row, line in enumerate(lines):
            text, problem = _decode(line)
            yield Record(row, item=text, problem=problem)
    elif fmt == ".jsonl":
        yield from _jsonl_records(lines, fields)
    elif fmt == ".csv":
        yield from _csv_records(lines, fields)
    else:
        raise ValueError(f"unsupported input format {fmt!r}")


def open_records(fs, path: str, fmt: str, fields: Fields, name: str) -> Iterator[Record]:
    """Open ``path`` on ``fs`` and yield its records (closing the file at the end)."""
    if fmt == ".parquet":
        with fs.open_input_file(path) as f:
            yield from iter_records(f, fmt, fields, name)
    else:
        with fs.open_input_stream(path, compression="detect") as f:
            yield from iter_records(f, fmt, fields, name)


def _lines(stream) -> Iterator[bytes]:
    """The lines of a binary stream, without ``\\n`` or ``\\r\\n``; a UTF-8 BOM is dropped."""
    tail, first = b"", True
    while True:
        block = stream.read(_CHUNK)
        if not block:
            break
        if first:
            block, first = block.removeprefix(_BOM.encode()), False
        lines = (tail + block).split(b"\n")
        tail = lines.pop()
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if tail:
        yield tail[:-1] if tail.endswith(b"\r") else tail


def _decode(line: bytes) -> tuple[str | None, str | None]:
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as err:
        return None, f"not valid UTF-8 (byte {err.start})"


def _jsonl_records(lines: Iterable[bytes], fields: Fields) -> Iterator[Record]:
    row = 0
    for line in lines:
        if not line.strip():
            continue
        text, problem = _decode(line)
        if problem is None:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                problem = f"invalid JSON ({err.msg})"
            else:
                if isinstance(value, dict):
                    yield to_record(row, value, fields)
                    row += 1
                    continue
                problem = f"expected an object, got {value!r}"[:200]
        yield Record(row, problem=problem)
        row += 1


def _csv_records(lines: Iterable[bytes], fields: Fields) -> Iterator[Record]:
    text = (line.decode("utf-8", "surrogateescape") + "\n" for line in lines)
    for row, values in enumerate(csv.DictReader(text)):
        bad = [k for k in fields.columns() if _undecodable(values.get(k))]
        if bad:
            yield Record(row, problem=f"field {bad[0]!r} is not valid UTF-8")
        else:
            yield to_record(row, values, fields)


def _undecodable(value) -> bool:
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parquet_records(source, fields: Fields) -> Iterator[Record]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(source)
    names = parquet.schema_arrow.names
    wanted = [c for c in fields.columns() if c in names]
    row = 0
    if not wanted:  # none of the columns: every row fails the same way
        for _ in range(parquet.metadata.num_rows):
            yield to_record(row, {}, fields, names)
            row += 1
        return
    for batch in parquet.iter_batches(batch_size=4096, columns=wanted, use_threads=False):
        for values in batch.to_pylist():
            yield to_record(row, values, fields, names)
            row += 1


def to_record(row: int, values: dict, fields: Fields, names: list[str] | None = None) -> Record:
    """The record of a parsed row; ``names`` lists the file's columns for the error message."""
    ident = values.get(fields.id) if fields.id else None
    if fields.text not in values:
        shown = ", ".join(map(str, names if names is not None else values))
        return Record(row, id=ident, problem=f"no field {fields.text!r} (fields: {shown})")
    item = values[fields.text]
    if fields.level == "word":
        target, problem = _target(values, fields.word, fields.span)
        if problem:
            return Record(row, id=ident, problem=problem)
        item = (item, target)
    return Record(row, item=item, id=ident)


def _target(values: dict, word_field: str | None, span_field: str | None):
    """``(word or span, None)`` for a word-level row, or ``(None, what is wrong)``."""
    name = word_field or span_field
    if name not in values or values[name] is None:
        return None, f"no field {name!r}"
    value = values[name]
    if word_field:
        return value, None
    if isinstance(value, str):  # CSV cells hold text: "3,7" or "[3, 7]"
        try:
            value = json.loads(value if value.startswith("[") else f"[{value}]")
        except json.JSONDecodeError:
            return None, f"field {name!r} is not a [start, end] span: {value!r}"
    return (tuple(value) if isinstance(value, list) else value), None
