"""Embed one range of rows: the step every engine shares, so their outputs agree row for row.

A bad row becomes a failure record with its row number: the embedder reports unusable items
itself. An error raised while embedding is not about a row: it is retried (``retry``), and if it
persists ``RangeFailed`` is raised, so that the engine commits nothing for the range.
"""

from __future__ import annotations

import numpy as np

from reba.io.parts import RangeOutput
from reba.io.ranges import RowRange
from reba.runners.job import EmbedJob
from reba.runners.retry import embed_retrying


def embed_range(embedder, job: EmbedJob, rows: RowRange) -> RangeOutput:
    """Embed ``rows`` with ``embedder`` as ``job`` says; the rows' problems become failures."""
    if rows.items:
        result = embed_retrying(embedder, job, rows.items, rows.file, rows.start, rows.end)
        vectors, ok = result.embeddings, [int(i) for i in result.indices]
        failed, truncated = [(f.index, f.reason) for f in result.failures], result.truncated
    else:
        vectors, ok, failed, truncated = np.zeros((0, embedder.dimension), np.float32), [], [], []
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
