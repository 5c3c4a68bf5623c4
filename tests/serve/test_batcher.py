"""MicroBatcher on its own, with a fake model: grouping, splitting, limits, errors, draining."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from reba.engine import EmbedResult
from reba.errors import ItemFailure
from reba.serve.batcher import BatcherClosed, ItemsRejected, MicroBatcher, QueueFull


class FakeEmbedder:
    """Row ``i`` is ``[len(text), ord(text[0])]``; empty texts fail; "boom" raises."""

    def __init__(self):
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()

    def embed(self, items, *, level, batch_size, show_progress_bar, packing):
        self.calls.append(list(items))
        self.gate.wait(10)
        if "boom" in items:
            raise RuntimeError("boom")
        ok = [i for i, t in enumerate(items) if t]
        return EmbedResult(
            embeddings=np.array([[len(items[i]), ord(items[i][0])] for i in ok], np.float32),
            indices=np.array(ok, dtype=np.int64),
            failures=[ItemFailure(i, "''", "empty") for i, t in enumerate(items) if not t],
            token_counts=np.array([len(items[i]) for i in ok], dtype=np.int64),
        )


def rows(texts):
    return np.array([[len(t), ord(t[0])] for t in texts], np.float32)


def run(scenario):
    with ThreadPoolExecutor(1) as executor:
        return asyncio.run(scenario(executor))


async def until(condition):
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    pytest.fail("condition not reached in time")


def test_concurrent_requests_share_one_call_and_get_their_rows():
    fake = FakeEmbedder()
    requests = [["ab", "c"], ["defg"], ["", "hi"], ["jkl", "m", "no"]]

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=50)
        batcher.start()
        results = await asyncio.gather(
            *(batcher.submit(r) for r in requests), return_exceptions=True
        )
        await batcher.close()
        return batcher, results

    batcher, results = run(scenario)
    assert fake.calls == [[t for r in requests for t in r]]
    assert batcher.stats.batches == 1 and batcher.stats.requests == 4
    for texts, result in zip(requests, results):
        if texts[0] == "":
            assert isinstance(result, ItemsRejected)
            assert [f.index for f in result.failures] == [0]  # within its own request
        else:
            np.testing.assert_array_equal(result.embeddings, rows(texts))
            assert result.token_counts.tolist() == [len(t) for t in texts]


def test_batches_stop_at_max_batch_items_but_never_split_a_request():
    fake = FakeEmbedder()
    requests = [["a", "b"], ["c", "d"], ["e", "f", "g", "h", "i"], ["j"]]

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=50, max_batch_items=4)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(r) for r in requests))
        await batcher.close()
        return results

    results = run(scenario)
    assert fake.calls == [["a", "b", "c", "d"], ["e", "f", "g", "h", "i"], ["j"]]
    for texts, result in zip(requests, results):
        np.testing.assert_array_equal(result.embeddings, rows(texts))


def test_a_model_error_fails_only_the_request_that_causes_it():
    fake = FakeEmbedder()

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=50)
        batcher.start()
        results = await asyncio.gather(
            batcher.submit(["x"]),
            batcher.submit(["boom"]),
            batcher.submit(["yz"]),
            return_exceptions=True,
        )
        await batcher.close()
        return results

    first, bad, last = run(scenario)
    assert isinstance(bad, RuntimeError)
    np.testing.assert_array_equal(first.embeddings, rows(["x"]))
    np.testing.assert_array_equal(last.embeddings, rows(["yz"]))
    assert fake.calls == [["x", "boom", "yz"], ["x"], ["boom"], ["yz"]]


def test_a_full_queue_refuses_and_close_drains_everything():
    fake = FakeEmbedder()
    fake.gate.clear()  # the model is busy until the gate opens

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=0, max_queue=2, max_batch_items=1)
        batcher.start()
        running = asyncio.ensure_future(batcher.submit(["a"]))
        await until(lambda: len(fake.calls) == 1)
        waiting = [asyncio.ensure_future(batcher.submit([t])) for t in ("b", "c")]
        await until(lambda: batcher.queued == 2)
        with pytest.raises(QueueFull, match="max-queue"):
            await batcher.submit(["d"])
        closing = asyncio.ensure_future(batcher.close())
        await asyncio.sleep(0.01)
        with pytest.raises(BatcherClosed):
            await batcher.submit(["e"])
        fake.gate.set()
        results = await asyncio.gather(running, *waiting)
        await closing
        return results

    results = run(scenario)
    for text, result in zip("abc", results):
        np.testing.assert_array_equal(result.embeddings, rows([text]))
    assert fake.calls == [["a"], ["b"], ["c"]]


def test_a_request_whose_client_left_is_skipped():
    fake = FakeEmbedder()
    fake.gate.clear()

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=0, max_batch_items=1)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(["a"]))
        await until(lambda: len(fake.calls) == 1)
        gone = asyncio.ensure_future(batcher.submit(["b"]))
        kept = asyncio.ensure_future(batcher.submit(["c"]))
        await until(lambda: batcher.queued == 2)
        gone.cancel()
        fake.gate.set()
        await asyncio.gather(first, kept)
        await batcher.close()

    run(scenario)
    assert fake.calls == [["a"], ["c"]]


def test_clients_just_answered_rejoin_one_batch_and_a_lone_client_never_waits():
    fake = FakeEmbedder()

    async def client(batcher, i):
        await batcher.submit([f"first {i}"])
        await asyncio.sleep(0.02 * i)  # answered together, back at different times
        await batcher.submit([f"second {i}"])

    async def scenario(executor):
        batcher = MicroBatcher(fake, executor, max_wait_ms=1000)
        batcher.start()
        await asyncio.gather(*(client(batcher, i) for i in range(4)))
        loop = asyncio.get_running_loop()
        lone = []
        for i in range(3):  # one client, request after request: the expected company is itself
            start = loop.time()
            await batcher.submit([f"lone {i}"])
            lone.append(loop.time() - start)
        await batcher.close()
        return lone

    lone = run(scenario)
    assert [len(c) for c in fake.calls[:2]] == [4, 4]
    # Right after the burst the batcher still expects four clients and waits once; from then
    # on a lone client's company is itself, so it never waits.
    assert lone[0] >= 0.95 and max(lone[1:]) < 0.5
