"""Errors that are not about an item: retried, and if they persist, the range fails.

A bad item (empty, invalid, word not found) is reported by the embedder as a failure record and
never raises. Anything ``embed`` raises is therefore about the job, not the rows: out of memory
(retried with half the batch, down to one row), a device error, anything unexpected (retried as
it was). An error that outlives its retries raises ``RangeFailed``: the engine commits nothing
for those rows, goes on with the other ranges, and a re-run retries exactly them.
"""

from __future__ import annotations

import logging
import time

from reba.engine import EmbedResult
from reba.runners import faults

logger = logging.getLogger(__name__)

ATTEMPTS = 3  # of an error other than out of memory, at the same batch size
BACKOFF_SECONDS = 0.2  # before the n-th retry: BACKOFF_SECONDS * 2 ** (n - 1)


class RangeFailed(RuntimeError):
    """Rows ``[start, end)`` could not be embedded for a reason not about them (after retries)."""

    def __init__(self, file: str, start: int, end: int, reason: str):
        self.file, self.start, self.end, self.reason = file, start, end, reason
        super().__init__(f"{self.where}: {reason}")

    @property
    def where(self) -> str:
        return _where(self.file, self.start, self.end)


def _where(file: str, start: int, end: int) -> str:
    rows = f"rows {start}-{end - 1}"
    return f"{file} {rows}" if file else rows


def embed_retrying(
    embedder, job, items: list, file: str, start: int, end: int, progress: bool = False
) -> EmbedResult:
    """``embedder.embed(items)`` as ``job`` asks, for rows ``[start, end)`` of ``file``, with
    retries; ``RangeFailed`` if an error outlives them."""
    batch_size, attempt, where = job.batch_size, 1, _where(file, start, end)
    while True:
        try:
            faults.inject(start, end, batch_size)
            return embedder.embed(
                items,
                level=job.level,
                batch_size=batch_size,
                normalize=job.normalize,
                show_progress_bar=progress,
                packing=job.packing,
            )
        except Exception as err:  # not about an item: see the module's text
            reason = f"{type(err).__name__}: {err}"[:500]
            if is_out_of_memory(err) and batch_size > 1:
                _free_memory()
                batch_size //= 2
                logger.warning("%s: %s; batch size now %d", where, reason, batch_size)
                continue
            if attempt >= ATTEMPTS:
                raise RangeFailed(file, start, end, reason) from err
            logger.warning("%s: %s; retry %d of %d", where, reason, attempt, ATTEMPTS - 1)
            time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            attempt += 1


def is_out_of_memory(err: BaseException) -> bool:
    import torch

    if isinstance(err, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
