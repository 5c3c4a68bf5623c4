"""Micro-batching: concurrent requests for one configuration share one model call.

Requests wait in a queue. When the model is free, the batcher sends every queued request that
fits under ``max_batch_items`` texts to the model in one ``Embedder.embed`` call, run on the
given executor (one thread for the whole process, so torch calls never overlap). Before that it
may wait for company, but only when company is expected: the clients the previous batch just
answered usually send their next request within milliseconds, so the batcher waits until as many
requests are queued as were queued or answered when the model became free, or until
``max_wait_ms`` have passed since the later of (the oldest request's arrival, the model becoming
free), or until the queue holds ``max_batch_items`` texts. Under steady load this makes one
batch of all clients instead of two half-size cohorts taking turns (small batches of
random-length texts pad more and use the CPU worse); a lone client waits at most once, right
after busier times. Requests are
never split, so one request larger than ``max_batch_items`` runs alone. Each request gets back
exactly its own rows, in order; a request with a bad item fails alone (``ItemsRejected``,
indices relative to that request). If the model call itself raises, each request of the batch
is retried on its own so only the one that triggers the error fails.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from reba.engine import EmbedResult
from reba.errors import ItemFailure

logger = logging.getLogger(__name__)


class SupportsEmbed(Protocol):
    def embed(
        self, items, *, level=..., batch_size=..., show_progress_bar=..., packing=...
    ) -> EmbedResult: ...


@dataclass
class BatchOutput:
    """One request's rows: embeddings ``(n, d)`` float32, text tokens per item ``(n,)`` and the
    items (request-relative indices) the engine cut to fit the configuration's max_length."""

    embeddings: np.ndarray
    token_counts: np.ndarray
    truncated: list[int] = dataclasses.field(default_factory=list)


class ItemsRejected(Exception):
    """Some items of a request cannot be embedded; indices are within that request."""

    def __init__(self, failures: list[ItemFailure]):
        super().__init__("; ".join(map(str, failures[:5])))
        self.failures = failures


class QueueFull(Exception):
    """Too many requests are already waiting for this configuration."""


class BatcherClosed(Exception):
    """The batcher is shutting down and takes no new requests."""


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future
    enqueued: float


@dataclass
class BatcherStats:
    requests: int = 0
    items: int = 0
    batches: int = 0
    model_seconds: float = 0.0  # wall time inside model calls


class MicroBatcher:
    """Collects concurrent requests for one embedder into model batches (see module doc)."""

    def __init__(
        self,
        embedder: SupportsEmbed,
        executor: Executor,
        *,
        max_wait_ms: float = 50.0,
        max_batch_items: int = 128,
        max_queue: int = 1024,
        batch_size: int = 16,
        packing: bool = True,
        on_batch: Callable[[int], None] | None = None,
    ):
        if max_wait_ms < 0 or max_batch_items < 1 or max_queue < 1 or batch_size < 1:
            raise ValueError(
                "max_wait_ms must be >= 0 and max_batch_items, max_queue, batch_size >= 1"
            )
        self.embedder = embedder
        self.executor = executor
        self.max_wait = max_wait_ms / 1000
        self.max_batch_items = max_batch_items
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.packing = packing
        self.on_batch = on_batch  # called with the number of texts of each model call
        self.stats = BatcherStats()
        self._queue: deque[_Job] = deque()
        self._queued_items = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._free_since = 0.0  # loop time when the last model call returned
        self._expected = 0  # requests queued or answered then: the company worth waiting for

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def closing(self) -> bool:
        return self._closing

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, texts: Sequence[str]) -> BatchOutput:
        """Embed ``texts`` in the next micro-batch; raises ``ItemsRejected``, ``QueueFull`` or
        ``BatcherClosed``."""
        if self._closing or self._task is None or self._task.done():
            raise BatcherClosed("the server is shutting down")
        if len(self._queue) >= self.max_queue:
            raise QueueFull(
                f"{len(self._queue)} requests are already waiting for this model (--max-queue "
                f"{self.max_queue}); retry later"
            )
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), loop.create_future(), loop.time())
        self._queue.append(job)
        self._queued_items += len(job.texts)
        self._wakeup.set()
        return await job.future

    async def close(self) -> None:
        """Take no new requests, finish every queued one, then stop the loop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    # --- the loop ----------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._wait_for_more(loop)
            jobs = self._take()
            try:
                if jobs:
                    await self._execute(loop, jobs)
            except Exception as err:  # a bug here must not hang the requests
                logger.exception("reba serve: micro-batch failed")
                for job in jobs:
                    _fail(job, err)

    async def _wait_for_more(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until the expected company is queued, a full batch, or ``max_wait`` after the oldest
        arrival or the model freeing."""
        deadline = max(self._queue[0].enqueued, self._free_since) + self.max_wait
        while (
            not self._closing
            and len(self._queue) < self._expected
            and self._queued_items < self.max_batch_items
        ):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Job]:
        jobs: list[_Job] = []
        items = 0
        while self._queue:
            job = self._queue[0]
            if jobs and items + len(job.texts) > self.max_batch_items:
                break
            self._queue.popleft()
            self._queued_items -= len(job.texts)
            if job.future.done():  # the client went away
                continue
            jobs.append(job)
            items += len(job.texts)
        return jobs

    async def _execute(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        texts = [text for job in jobs for text in job.texts]
        self.stats.batches += 1
        self.stats.items += len(texts)
        if self.on_batch is not None:
            self.on_batch(len(texts))
        try:
            result = await loop.run_in_executor(self.executor, self._embed, texts)
        except Exception as err:
            self._free_since = loop.time()
            if len(jobs) == 1:
                logger.error("reba serve: the model call failed", exc_info=err)
                _fail(jobs[0], err)
                return
            logger.warning("reba serve: a batch of %d requests failed; retrying each", len(jobs))
            self.stats.items -= len(texts)
            for job in jobs:
                await self._execute(loop, [job])
            return
        self._free_since = loop.time()
        self._expected = len(self._queue) + len(jobs)
        self.stats.requests += len(jobs)
        _deliver(jobs, result)

    def _embed(self, texts: list[str]) -> EmbedResult:
        start = time.perf_counter()
        try:
            return self.embedder.embed(
                texts,
                level="sentence",
                batch_size=self.batch_size,
                show_progress_bar=False,
                packing=self.packing,
            )
        finally:
            self.stats.model_seconds += time.perf_counter() - start


def _deliver(jobs: list[_Job], result: EmbedResult) -> None:
    """Give each request its own rows, or its own failures."""
    counts = result.token_counts
    if counts is None:
        counts = np.zeros(len(result.indices), dtype=np.int64)
    offset = 0
    for job in jobs:
        n = len(job.texts)
        mine = [
            dataclasses.replace(f, index=f.index - offset)
            for f in result.failures
            if offset <= f.index < offset + n
        ]
        if mine:
            _fail(job, ItemsRejected(mine))
        else:
            wanted = np.arange(offset, offset + n)
            rows = np.searchsorted(result.indices, wanted)
            missing = rows.size and (
                rows[-1] >= len(result.indices) or (result.indices[rows] != wanted).any()
            )
            if missing:
                _fail(job, RuntimeError("the model returned no row for some items"))
            elif not job.future.done():
                cut = [i - offset for i in result.truncated if offset <= i < offset + n]
                job.future.set_result(BatchOutput(result.embeddings[rows], counts[rows], cut))
        offset += n


def _fail(job: _Job, err: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(err)
