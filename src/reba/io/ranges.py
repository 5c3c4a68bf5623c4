"""Fixed row ranges of an input file: the unit of work, of output, and of resuming.

Rows ``[start, start + shard_rows)`` of each file form one range, whatever the engine, so a run
can be resumed by another engine or with another number of workers. Each range carries a digest
of its parsed rows, computed where the rows are read: a re-run compares it with the digest stored
next to the range's output to notice a changed input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from reba.io.rows import Record


@dataclass
class RowRange:
    """Rows ``[start, end)`` of one input file, parsed: the items to embed and the bad rows."""

    file: str  # InputFile.name
    start: int
    end: int
    digest: str = ""
    rows: list[int] = field(default_factory=list)  # row numbers of the items
    items: list[object] = field(default_factory=list)
    ids: list[object] = field(default_factory=list)
    problems: list[tuple[int, object, str]] = field(default_factory=list)  # (row, id, reason)

    @property
    def size(self) -> int:
        return self.end - self.start


def cut_ranges(records: Iterable[Record], file: str, shard_rows: int) -> Iterator[RowRange]:
    """Group ``records`` (numbered 0, 1, ...) into ranges of ``shard_rows`` rows, with digests."""
    if shard_rows < 1:
        raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
    current, hasher = None, None
    for record in records:
        if current is None or record.row >= current.start + shard_rows:
            if current is not None:
                yield _finish(current, hasher)
            start = record.row - record.row % shard_rows
            current, hasher = RowRange(file, start, start), hashlib.sha256()
        _add(current, hasher, record)
    if current is not None:
        yield _finish(current, hasher)


def _add(current: RowRange, hasher, record: Record) -> None:
    line = json.dumps(
        [record.row, record.item, record.id, record.problem], ensure_ascii=False, default=repr
    )
    hasher.update(line.encode("utf-8", "surrogatepass") + b"\n")
    current.end = record.row + 1
    if record.problem is not None:
        current.problems.append((record.row, record.id, record.problem))
    else:
        current.rows.append(record.row)
        current.items.append(record.item)
        current.ids.append(record.id)


def _finish(current: RowRange, hasher) -> RowRange:
    current.digest = hasher.hexdigest()
    return current
