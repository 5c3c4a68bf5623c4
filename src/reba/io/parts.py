"""One range's output in a folder: a Parquet part of embeddings and, if any, a part of failures.

Every engine writes the same files. ``part-<file>-<key>-<start>-<end>.parquet`` holds the columns
``file`` (the input file's name), ``row`` (its row number in that file), ``id`` (the input's id
as text, null where it has none) and ``embedding`` (``fixed_size_list<float32, d>``, which
pyarrow, DuckDB and LanceDB read as a vector); its schema metadata ``reba`` holds the
configuration, the range, the digest of its input rows and its counts. Failed rows go to
``_failures/`` under the same name (``file``, ``row``, ``id``, ``reason``); names starting with
``_`` or ``.`` are skipped by pyarrow and Ray when the folder is read as a dataset.

A part is committed atomically: written under a temporary name, then renamed (on object stores,
where an object appears only once its upload completes, written in place). Its failures are
written first, so a committed part always has its failures next to it; rewriting a range
replaces both, never adds rows.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

FAILURES = "_failures"
META_KEY = b"reba"
_PART = re.compile(r"^part-.*-(\d{12})-(\d{12})\.parquet$")
_RENAMING_FILESYSTEMS = ("local", "hdfs")  # where a rename is atomic
# What a part's metadata holds beside the configuration that made it (``part_config``).
PART_KEYS = frozenset(
    {"range", "input_digest", "file", "start", "end", "embedded", "failed", "truncated"}
    | {"truncated_rows", "file_size", "file_mtime_ns"}
)


@dataclass
class RangeOutput:
    """The result of embedding one range: vectors of the good rows, and the failed rows."""

    file: str
    start: int
    end: int
    digest: str
    rows: list[int]
    ids: list[object]
    embeddings: np.ndarray  # (len(rows), d) float32
    failures: list[tuple[int, object, str]] = field(default_factory=list)  # (row, id, reason)
    truncated: list[int] = field(default_factory=list)  # rows whose text was cut


def part_name(file: str, start: int, end: int) -> str:
    """``part-<stem>-<8 hex of the file's name>-<start>-<end>.parquet`` (the key tells apart
    files of the same stem in different folders)."""
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", PurePosixPath(file).name.split(".")[0])[:40]
    key = hashlib.sha256(file.encode("utf-8")).hexdigest()[:8]
    return f"part-{stem or 'input'}-{key}-{start:012d}-{end:012d}.parquet"


def is_part(name: str) -> bool:
    return _PART.match(name) is not None


def id_text(value: object) -> str | None:
    """An id as text: strings as they are, other JSON values as their JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def write_part(fs, folder: str, output: RangeOutput, meta: dict) -> dict:
    """Commit ``output`` into ``folder``; return its counts (also stored in the part's metadata).

    ``meta`` is the configuration and the input file's fingerprint, stored in the part.
    """
    import pyarrow as pa

    name = part_name(output.file, output.start, output.end)
    counts = {
        "file": output.file,
        "start": output.start,
        "end": output.end,
        "embedded": len(output.rows),
        "failed": len(output.failures),
        "truncated": len(output.truncated),
    }
    failures_path = f"{folder}/{FAILURES}/{name}"
    if output.failures:
        fs.create_dir(f"{folder}/{FAILURES}", recursive=True)
        rows, ids, reasons = zip(*sorted(output.failures, key=lambda f: f[0]))
        table = pa.table(
            {
                "file": pa.array([output.file] * len(rows), pa.string()),
                "row": pa.array(rows, pa.int64()),
                "id": pa.array([id_text(i) for i in ids], pa.string()),
                "reason": pa.array(reasons, pa.string()),
            }
        )
        _write_atomic(fs, failures_path, table)
    else:
        _delete_if_exists(fs, failures_path)  # left by an earlier attempt at this range
    info = {
        **meta,
        "range": {"file": output.file, "start": output.start, "end": output.end},
        "input_digest": output.digest,
        **counts,
        "truncated_rows": list(map(int, output.truncated)),
    }
    table = _embedding_table(output).replace_schema_metadata(
        {META_KEY: json.dumps(info, ensure_ascii=False)}
    )
    _write_atomic(fs, f"{folder}/{name}", table)
    return counts


def _embedding_table(output: RangeOutput):
    import pyarrow as pa

    matrix = np.ascontiguousarray(output.embeddings, dtype=np.float32)
    flat = pa.array(matrix.reshape(-1), pa.float32())
    return pa.table(
        {
            "file": pa.array([output.file] * len(output.rows), pa.string()),
            "row": pa.array(output.rows, pa.int64()),
            "id": pa.array([id_text(i) for i in output.ids], pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, int(matrix.shape[1])),
        }
    )


def read_part_meta(fs, path: str) -> dict:
    """The ``reba`` metadata of a committed part (its footer only)."""
    import pyarrow.parquet as pq

    with fs.open_input_file(path) as f:
        metadata = pq.read_schema(f).metadata or {}
    return json.loads(metadata[META_KEY])


def part_config(meta: dict) -> dict:
    """The configuration recorded in a part's metadata: all of it but the range's own keys."""
    return {k: v for k, v in meta.items() if k not in PART_KEYS}


def _write_atomic(fs, path: str, table) -> None:
    import pyarrow.parquet as pq

    if fs.type_name not in _RENAMING_FILESYSTEMS:
        with fs.open_output_stream(path) as f:
            pq.write_table(table, f)
        return
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        with fs.open_output_stream(tmp) as f:
            pq.write_table(table, f)
        fs.move(tmp, path)
    finally:
        _delete_if_exists(fs, tmp)


def _delete_if_exists(fs, path: str) -> None:
    import pyarrow.fs as pafs

    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_file(path)
