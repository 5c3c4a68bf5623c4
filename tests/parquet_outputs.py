"""Readers for the Parquet folders `reba embed` writes, shared by the folder and Ray tests."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def mtimes(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its modification time: a resume must not rewrite any
    (but the lock file, which names the job holding it)."""
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and p.name != ".reba.lock"
    }


def vectors(table: pa.Table) -> np.ndarray:
    return np.array(table.column("embedding").to_pylist(), dtype=np.float32)


def metadata(path: Path) -> dict:
    """The configuration reba stores in a part's schema metadata."""
    return json.loads(pq.read_schema(path).metadata[b"reba"])
