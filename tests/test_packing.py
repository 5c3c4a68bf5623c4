"""Packing several inputs into one row gives what each input gives alone, on every family."""

import contextlib

import numpy as np
import pytest
import torch
import transformers.masking_utils
from tiny_models import make_model

import reba
from reba.engine import forward as engine_forward
from reba.engine.packing import pack_rows, packed_positions, packing_works

TEXTS = [
    "The bank raised interest rates again this year, and then once more in the autumn.",
    "A bat flew out.",
    "我们去银行取钱，然后去河边散步。",
    "Hi.",
    "Repetition lets early tokens see the whole sentence, and later ones too.",
    "He swung the bat.",
    "这个苹果很甜。",
] * 3
WORDS = [("The bank raised interest rates again.", "bank"), ("A bat flew out of the cave.", "bat")]


def test_pack_rows_fills_rows_best_fit_longest_first():
    lengths = [60, 10, 70, 50, 200, 30, 128]
    rows = pack_rows(lengths, capacity=128)
    # 200 and 128 get rows of their own. 70 opens a row (58 free); 60 does not fit there and
    # opens another (68 free); 50 takes the fullest row it fits in, 70's (8 left); 30 and 10
    # then fit only in 60's row.
    assert rows == [[4], [6], [2, 3], [0, 5, 1]]
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))


@pytest.mark.parametrize("seed", range(10))
def test_pack_rows_keeps_every_item_once_within_capacity(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 160, int(rng.integers(1, 60))).tolist()
    rows = pack_rows(lengths, capacity=128)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    for row in rows:
        assert len(row) == 1 or sum(lengths[i] for i in row) <= 128
    # No two rows could be merged, the best-fit bound: at most one row is half empty or less.
    totals = sorted(sum(lengths[i] for i in row) for row in rows)
    assert len(totals) < 2 or totals[0] + totals[1] > 128


def test_packed_positions_restart_for_each_input_and_the_padding():
    assert packed_positions([3, 2], 7).tolist() == [0, 1, 2, 0, 1, 0, 1]


def _rows_seen(monkeypatch) -> list[int]:
    """Inputs per row of every forward (to check that rows really were packed)."""
    seen: list[int] = []
    forward = engine_forward._forward_batch

    def spy(lm, rows, *args):
        seen.extend(len(row) for row in rows)
        return forward(lm, rows, *args)

    monkeypatch.setattr(engine_forward, "_forward_batch", spy)
    return seen


@pytest.mark.parametrize("method", ["mean", "last", "echo", "reba", "reba-last", "prompteol"])
def test_packed_equals_padded(tiny, method, monkeypatch):
    emb = reba.Embedder(tiny, method=method)
    padded = emb.encode(TEXTS, batch_size=4)
    seen = _rows_seen(monkeypatch)
    packed = emb.embed(TEXTS, batch_size=4, packing=True)
    assert max(seen) > 1  # several inputs shared a row
    np.testing.assert_array_equal(packed.indices, np.arange(len(TEXTS)))
    np.testing.assert_allclose(packed.embeddings, padded, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method, k", [("reba", 2), ("echo", 2), ("mean", 1)])
def test_packed_words_equal_padded(tiny, method, k):
    emb = reba.Embedder(tiny, method=method, k=k)
    padded = emb.encode_words(WORDS * 4, batch_size=3)
    packed = emb.embed(WORDS * 4, level="word", batch_size=3, packing=True).embeddings
    np.testing.assert_allclose(packed, padded, rtol=0, atol=1e-5)


def test_packed_on_real_weights(smollm2, monkeypatch):
    emb = reba.Embedder(smollm2, method="reba", k=2)
    padded = emb.encode(TEXTS)
    seen = _rows_seen(monkeypatch)
    packed = emb.embed(TEXTS, packing=True).embeddings
    assert max(seen) > 1
    # Activations reach ~40 here: float32 kernels on different shapes differ by a few ulp.
    np.testing.assert_allclose(packed, padded, rtol=0, atol=1e-4)


def test_a_model_that_ignores_packed_positions_is_run_padded(monkeypatch, caplog):
    """If the attention mask does not follow packed position ids, inputs would see each
    other: the probe notices, and the inputs run padded (still right), with a warning."""
    model, tokenizer = make_model("llama", seed=1)  # a model no other test has probed
    lm = reba.wrap_model(model, tokenizer, name="tiny-llama-unpackable")
    emb = reba.Embedder(lm, method="reba", k=2)
    padded = emb.encode(TEXTS)
    monkeypatch.setattr(transformers.masking_utils, "find_packed_sequence_indices", lambda p: None)
    seen = _rows_seen(monkeypatch)
    packed = emb.embed(TEXTS, packing=True).embeddings
    assert max(seen) == 1
    assert "LlamaModel does not keep packed inputs apart" in caplog.text
    assert packing_works(model, "fused", lambda: None) is False  # remembered, not re-probed
    np.testing.assert_allclose(packed, padded, rtol=0, atol=1e-5)


def test_nan_in_one_packed_input_fails_only_that_input(monkeypatch):
    """NaN or inf spreads to every input of its packed row (0 x NaN in attention); those
    inputs are redone alone, so only the culprit fails, as it would padded."""
    model, tokenizer = make_model("llama", seed=2)
    emb = reba.Embedder(reba.wrap_model(model, tokenizer), method="reba", k=2)
    emb.embed(TEXTS[:2], packing=True)  # probe the model while it is sound
    poison = tokenizer("Q", add_special_tokens=False)["input_ids"][0]
    model.embed_tokens.register_forward_hook(
        lambda module, args, out: out.masked_fill((args[0] == poison)[..., None], float("nan"))
    )
    texts = [*TEXTS[:6], "QQ Q", *TEXTS[6:12]]
    seen = _rows_seen(monkeypatch)
    packed = emb.embed(texts, packing=True)
    assert max(seen) > 1
    assert [(f.index, f.kind) for f in packed.failures] == [(6, "non_finite")]
    padded = emb.embed(texts, packing=False)
    np.testing.assert_array_equal(packed.indices, padded.indices)
    np.testing.assert_allclose(packed.embeddings, padded.embeddings, rtol=0, atol=1e-5)


@pytest.mark.parametrize("dtype, accepted", [(torch.bfloat16, True), (torch.float32, False)])
def test_the_probe_allows_rounding_by_the_models_precision(dtype, accepted, monkeypatch):
    """Packed outputs 1% (of the largest value) off: rounding for bfloat16, a leak for float32."""
    from reba.engine import packing

    last_hidden = packing._last_hidden

    def off_when_packed(model, ids, **kwargs):
        out = last_hidden(model, ids, **kwargs)
        if "position_ids" in kwargs:
            out[0, -1, 0] += 0.01 * (1 + float(out.abs().max()))
        return out

    monkeypatch.setattr(packing, "_last_hidden", off_when_packed)
    model, _ = make_model("gemma3", seed=3)
    assert packing_works(model.to(dtype), "sdpa", contextlib.nullcontext) is accepted
