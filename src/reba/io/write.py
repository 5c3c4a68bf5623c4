"""Write embeddings as .npy, JSONL or Parquet, always with the configuration that made them.

.npy gets a sidecar ``<file>.json``; JSONL rows and Parquet schema metadata carry it inline
(JSONL also gets the sidecar, since its rows hold only vectors and ids). Each file is written
under a unique temporary name and renamed when complete, the data file last: a job killed while
writing leaves no partial file under the output's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

OUTPUT_FORMATS = (".npy", ".jsonl", ".parquet")


def write_embeddings(
    path: str | Path,
    embeddings: np.ndarray,
    *,
    rows: list[int],
    ids: list[object] | None,
    config: dict,
    failures: list[dict] | None = None,
) -> list[Path]:
    """Write ``embeddings`` (one per successful input row) and return the files written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"{path}: unsupported output format {suffix!r}; use one of {OUTPUT_FORMATS}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {**config, "rows": len(rows), "failures": failures or []}
    if suffix == ".parquet":
        with _atomic(path) as tmp:
            _write_parquet(tmp, embeddings, rows, ids, meta)
        return [path]
    if suffix == ".npy":
        meta["row_of_input"] = rows  # which input row each .npy row came from
    sidecar = path.with_name(path.name + ".json")
    with _atomic(path) as tmp:
        if suffix == ".npy":
            with tmp.open("wb") as f:
                np.save(f, embeddings.astype(np.float32, copy=False))
        else:
            _write_jsonl(tmp, embeddings, rows, ids)
        with _atomic(sidecar) as tmp_sidecar:
            text = json.dumps(meta, ensure_ascii=False, indent=1) + "\n"
            tmp_sidecar.write_text(text, encoding="utf-8")
    return [path, sidecar]


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to it if the block completes, else deleted."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_jsonl(path: Path, embeddings: np.ndarray, rows, ids) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i, (row, vector) in enumerate(zip(rows, embeddings)):
            record = {"row": row}
            if ids is not None:
                record["id"] = ids[i]
            record["embedding"] = [float(v) for v in vector]
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_parquet(path: Path, embeddings: np.ndarray, rows, ids, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    dimension = embeddings.shape[1] if embeddings.ndim == 2 else 0
    flat = pa.array(embeddings.astype(np.float32, copy=False).reshape(-1), pa.float32())
    columns = {"row": pa.array(rows, pa.int64())}
    if ids is not None:
        columns["id"] = pa.array(ids)
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, dimension)
    table = pa.table(columns)
    table = table.replace_schema_metadata({"reba": json.dumps(meta, ensure_ascii=False)})
    pq.write_table(table, path)
