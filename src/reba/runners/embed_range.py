"""Embed one range of rows: the step every engine shares, so their outputs agree row for row.

A bad row becomes a failure record with its row number, never a failed job: the embedder reports
unusable items itself, and should it raise on a batch anyway, the batch is split in halves until
the rows that cause it are alone and recorded as failures.
"""

from __future__ import annotations

import numpy as np

from reba.io.parts import RangeOutput
from reba.io.ranges import RowRange
from reba.runners.job import EmbedJob


def embed_range(embedder, job: EmbedJob, rows: RowRange) -> RangeOutput:
    """Embed ``rows`` with ``embedder`` as ``job`` says; the rows' problems become failures."""
    vectors, ok, failed, truncated = _embed_tolerant(embedder, job, rows.items)
    failures = list(rows.problems)
    failures += [(rows.rows[i], rows.ids[i], reason) for i, reason in failed]
    failures.sort(key=lambda f: f[0])
    return RangeOutput(
        file=rows.file,
        start=rows.start,
        end=rows.end,
        digest=rows.digest,
        rows=[rows.rows[i] for i in ok],
        ids=[rows.ids[i] for i in ok],
        embeddings=vectors.reshape(len(ok), embedder.dimension),
        failures=failures,
        truncated=sorted(rows.rows[i] for i in truncated),
    )


def _embed_tolerant(embedder, job: EmbedJob, items: list):
    """``(vectors, ok positions, [(position, reason)], truncated positions)`` of ``items``."""
    if not items:
        return np.zeros((0, embedder.dimension), np.float32), [], [], []
    try:
        result = embedder.embed(
            items,
            level=job.level,
            batch_size=job.batch_size,
            normalize=job.normalize,
            show_progress_bar=False,
            packing=job.packing,
        )
    except Exception as err:  # any error of a row stays that row's
        if len(items) == 1:
            return np.zeros((0, embedder.dimension), np.float32), [], [(0, _reason(err))], []
        return _split(embedder, job, items)
    failed = [(f.index, f.reason) for f in result.failures]
    return result.embeddings, [int(i) for i in result.indices], failed, list(result.truncated)


def _split(embedder, job: EmbedJob, items: list):
    half = len(items) // 2
    first = _embed_tolerant(embedder, job, items[:half])
    second = _embed_tolerant(embedder, job, items[half:])
    return (
        np.concatenate([first[0], second[0]]),
        first[1] + [i + half for i in second[1]],
        first[2] + [(i + half, r) for i, r in second[2]],
        first[3] + [i + half for i in second[3]],
    )


def _reason(err: Exception) -> str:
    return f"could not be embedded ({type(err).__name__}: {err})"[:500]
