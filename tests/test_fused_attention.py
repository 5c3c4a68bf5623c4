"""Backward attention from a fused kernel's log-sum-exp: equal to the eager path, no N x N
tensor, a probe that falls back, and one forward for many targets of the same text."""

import numpy as np
import pytest
import torch
from checks import assert_close
from torch.utils._python_dispatch import TorchDispatchMode

import reba
from reba import EmbeddingConfig, embed_configs
from reba.attention import backward_attention_path, force_path, fused, probe

TEXTS = [
    "The bank raised interest rates again this year, and the river bank flooded.",
    "A bat flew out.",
    "我们去银行取钱，然后去河边散步。" * 3,  # longer than the tiny Gemma's 16-token window
    "Hi.",
]
CASES = [(m, k) for m in ("reba", "reba-last") for k in (1, 2, 3)] + [("prompteol+reba", 1)]


@pytest.fixture
def path():
    """Run a test body on a forced path, and restore probing after."""
    yield force_path
    force_path(None)


@pytest.mark.parametrize(("method", "k"), CASES)
@pytest.mark.parametrize("packing", [False, True])
def test_fused_equals_eager(tiny, path, method, k, packing):
    """Padded or packed batches, sliding windows, grouped-query attention: the same vectors."""
    emb = reba.Embedder(tiny, method=method, k=k)
    path("eager")
    eager = emb.embed(TEXTS, batch_size=4, packing=packing).embeddings
    path("fused")
    fused_ = emb.embed(TEXTS, batch_size=4, packing=packing).embeddings
    assert_close(fused_, eager)


def test_fused_equals_eager_on_words(tiny, path):
    items = [(TEXTS[0], "bank"), (TEXTS[0], (53, 57)), (TEXTS[2], "河边"), (TEXTS[1], "bat")]
    emb = reba.Embedder(tiny, method="reba", k=3)
    path("eager")
    eager = emb.encode_words(items)
    path("fused")
    assert_close(emb.encode_words(items), eager)


def test_the_probe_picks_fused_on_the_tested_families(tiny):
    assert backward_attention_path(tiny.model) == "fused"


class _Shapes(TorchDispatchMode):
    """Records the shape of every tensor an operator returns."""

    def __init__(self):
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.shapes.append(tuple(t.shape))
        return out


def test_no_n_by_n_tensor_is_allocated(tiny, path, monkeypatch):
    """At the tiny models' longest input (k=2, cut to 512 tokens), in blocks of 64 query rows,
    the fused path never makes a tensor with two dimensions of size N or more; the eager path
    does (so the check can fail)."""
    monkeypatch.setattr(fused, "QUERY_BLOCK", 64)
    text = " ".join(["bank river cave interest"] * 100)
    emb = reba.Embedder(tiny, method="reba", k=2)
    copy = int(emb.embed([text]).token_counts[0])
    n = len(tiny.prefix_ids) + 2 * copy
    assert n > 4 * fused.QUERY_BLOCK and copy < n

    def square(shapes):
        return [s for s in shapes if sum(d >= n for d in s) >= 2]

    for which, expect_square in (("fused", False), ("eager", True)):
        path(which)
        with _Shapes() as seen:
            emb.encode([text])
        assert bool(square(seen.shapes)) == expect_square, (which, square(seen.shapes)[:3])


def test_the_probe_falls_back_to_eager_when_fused_is_wrong(tiny, monkeypatch, caplog):
    model, tokenizer = tiny.model, tiny.tokenizer
    fresh = reba.wrap_model(model, tokenizer, name="probe-test")
    probe._verdicts.pop(model, None)
    real_kernel = fused._kernel

    def broken(query, key, value, bias, scale):
        out, lse = real_kernel(query, key, value, bias, scale)
        return out, lse + 0.5  # recomputed probabilities off by a factor e^-0.5

    monkeypatch.setattr(fused, "_kernel", broken)
    assert backward_attention_path(model) == "eager"
    assert "does not match eager attention" in caplog.text
    got = reba.Embedder(fresh, method="reba", k=2).encode(TEXTS)
    monkeypatch.setattr(fused, "_kernel", real_kernel)
    probe._verdicts.pop(model, None)
    want = reba.Embedder(fresh, method="reba", k=2).encode(TEXTS)
    assert_close(got, want)


def test_a_failing_kernel_falls_back_too(tiny, monkeypatch):
    probe._verdicts.pop(tiny.model, None)

    def missing(*args, **kwargs):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(fused, "_kernel", missing)
    assert backward_attention_path(tiny.model) == "eager"
    monkeypatch.undo()
    probe._verdicts.pop(tiny.model, None)


class _RowCounter:
    """Counts forward passes and model rows."""

    def __init__(self, model):
        self.calls = self.rows = 0
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        ids = kwargs.get("input_ids", kwargs.get("inputs_embeds"))
        self.calls += 1
        self.rows += ids.shape[0]


def test_many_word_targets_of_one_text_share_one_forward(tiny):
    text = "The bank by the bank of the river raised the bank rate."
    items = [(text, (4, 8)), (text, (16, 20)), (text, (44, 48)), (text, "river"), ("A bat.", "bat")]
    configs = [EmbeddingConfig("reba", 2), EmbeddingConfig("echo", 2)]
    backward_attention_path(tiny.model)  # the probe's own forwards are not counted
    counter = _RowCounter(tiny.model)
    try:
        together = embed_configs(tiny, items, configs, level="word")
    finally:
        counter.handle.remove()
    assert counter.rows == 2  # two distinct texts, one model row each (+ no other forward)
    for cfg in configs:
        alone = np.stack(
            [reba.Embedder(tiny, method=cfg.method, k=cfg.k).encode_words([i])[0] for i in items]
        )
        got = together[cfg].embeddings
        assert_close(got, alone)
    assert not np.allclose(together[configs[0]].embeddings[0], together[configs[0]].embeddings[1])


def test_repeated_texts_are_embedded_once(tiny):
    backward_attention_path(tiny.model)
    counter = _RowCounter(tiny.model)
    try:
        out = reba.Embedder(tiny, method="reba", k=2).encode(["same text", "other", "same text"])
    finally:
        counter.handle.remove()
    assert counter.rows == 2
    np.testing.assert_array_equal(out[0], out[2])
