"""A content-addressed embedding cache: one SQLite file, safe to interrupt and share.

The key is a hash of everything that determines a vector (model identity, configuration,
length limit, level and the input itself), so a sweep never embeds the same thing twice and an
interrupted run resumes where it stopped. Inputs the model could not embed are cached too, with
their reason, so they are not retried on every run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

_CHUNK = 500  # SQLite's limit on query parameters is 999 in old builds


class EmbeddingCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings "
            "(key BLOB PRIMARY KEY, vector BLOB, failure TEXT)"
        )

    def close(self) -> None:
        self._db.close()

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, np.ndarray | str]:
        """Cached entries among ``keys``: a float32 vector, or the reason it failed."""
        keys = list(keys)
        found: dict[bytes, np.ndarray | str] = {}
        for start in range(0, len(keys), _CHUNK):
            part = keys[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            query = f"SELECT key, vector, failure FROM embeddings WHERE key IN ({marks})"
            for key, vector, failure in self._db.execute(query, part):
                found[key] = failure if vector is None else np.frombuffer(vector, np.float32)
        return found

    def put_many(self, entries: Iterable[tuple[bytes, np.ndarray | str]]) -> None:
        rows = [
            (key, None, value)
            if isinstance(value, str)
            else (key, np.asarray(value, np.float32).tobytes(), None)
            for key, value in entries
        ]
        with self._db:  # one transaction: a chunk is stored whole or not at all
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)


def model_identity(lm, revision: str | None = None) -> str:
    """Name plus a hash of what the vectors depend on besides the configuration: the model's
    files or weights (``reba.models.identity``), its architecture config, dtype and device type,
    and the revision of reba's vectors (``reba._version.VECTORS_REVISION``: the version in which
    vectors last changed for an unchanged configuration; ``revision``: another one)."""
    from reba._version import VECTORS_REVISION
    from reba.models.identity import model_digest

    config = lm.model.config.to_json_string(use_diff=False)
    parameter = next(lm.model.parameters())
    parts = [config, str(parameter.dtype), parameter.device.type, model_digest(lm)]
    parts.append(revision or VECTORS_REVISION)
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return f"{lm.name}|{digest}"


def earlier_identities(lm) -> tuple[str, ...]:
    """The model's identities under the earlier revisions whose vectors equal this one's
    (``reba._version.EQUIVALENT_REVISIONS``): where a cache written by them is still read."""
    from reba._version import EQUIVALENT_REVISIONS

    return tuple(model_identity(lm, revision) for revision in EQUIVALENT_REVISIONS)


def input_key(model: str, fingerprint: dict, max_length: int, item: object) -> bytes:
    """The cache key of one input under one configuration, given the configuration's
    fingerprint (``reba.methods.Method.fingerprint``: method, templates verbatim, read-out,
    layer, intervention parameters, ...; ``item``: text or (text, span))."""
    payload = [
        model,
        fingerprint,
        max_length,
        item if isinstance(item, str) else [item[0], list(item[1])],
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).digest()
