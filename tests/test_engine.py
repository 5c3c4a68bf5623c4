"""Batching, padding and shared forwards: results must not depend on how inputs are grouped."""

import itertools

import numpy as np
import pytest

import reba
from reba import EmbeddingConfig, embed_configs
from reba.attention import BackwardAttention
from reba.engine import plan_batches
from reba.engine.batching import batches, row_bytes

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out.",
    "我们去银行取钱，然后去河边散步。",
    "Repetition lets early tokens see the whole sentence, and later ones too.",
    "Hi.",
] * 7  # 35 texts: more than one batch of 32


@pytest.mark.parametrize("method", ["mean", "echo", "reba", "reba-last", "prompteol"])
def test_batch_size_does_not_change_results(tiny, method):
    emb = reba.Embedder(tiny, method=method)
    one = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS[:5]])
    many = emb.encode(TEXTS, batch_size=32)
    np.testing.assert_allclose(many[:5], one, rtol=0, atol=1e-5)
    np.testing.assert_allclose(many[5:10], one, rtol=0, atol=1e-5)  # same text, other batch


def test_batch_invariance_on_real_weights(smollm2):
    emb = reba.Embedder(smollm2, method="reba", k=2)
    one = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS[:5]])
    many = emb.encode(TEXTS[:10], batch_size=32)
    # Activations reach ~40 here: float32 kernels on different shapes differ by a few ulp.
    np.testing.assert_allclose(many[:5], one, rtol=0, atol=1e-4)


def test_output_keeps_input_order(tiny):
    emb = reba.Embedder(tiny, method="echo", k=2)
    forward = emb.encode(TEXTS[:5])
    backward = emb.encode(TEXTS[:5][::-1])
    np.testing.assert_allclose(backward[::-1], forward, atol=1e-5)


def test_configs_sharing_a_forward_equal_separate_runs(tiny):
    """Every k <= 3 is read off one 3-copy forward; each must equal its own k-copy run."""
    configs = [
        EmbeddingConfig("echo", 1),
        EmbeddingConfig("echo-last", 2),
        EmbeddingConfig("reba-last", 1),
        EmbeddingConfig("reba-last", 3),
        EmbeddingConfig("echo", 2),
        EmbeddingConfig("reba", 2),
        EmbeddingConfig("reba", 3),
        EmbeddingConfig("reba-last", 2),
        EmbeddingConfig("mean"),
        EmbeddingConfig("reba", 2, layer=1),
    ]
    together = embed_configs(tiny, TEXTS[:5], configs)
    for cfg in configs:
        alone = reba.Embedder(tiny, method=cfg.method, k=cfg.k, layer=cfg.layer).encode(TEXTS[:5])
        np.testing.assert_allclose(together[cfg].embeddings, alone, atol=1e-5)


def test_accepts_any_iterable(tiny):
    emb = reba.Embedder(tiny, method="mean")
    np.testing.assert_allclose(emb.encode(t for t in TEXTS[:3]), emb.encode(TEXTS[:3]))
    assert emb.encode("one text").shape == (tiny.dimension,)


def test_output_is_float32_and_normalize_gives_unit_rows(tiny):
    emb = reba.Embedder(tiny, method="reba", k=2)
    plain, unit = emb.encode(TEXTS[:4]), emb.encode(TEXTS[:4], normalize=True)
    assert plain.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(
        unit, plain / np.linalg.norm(plain, axis=1, keepdims=True), atol=1e-6
    )


def test_similarity_is_cosine():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(reba.Embedder.similarity(a, a), [[1, 0.5**0.5], [0.5**0.5, 1]])


def test_recorder_keeps_only_needed_columns_and_max_over_heads_and_layers():
    import torch

    probs = [torch.rand(2, 3, 5, 5) for _ in range(2)]  # two layers, 3 heads, N=5
    rec = BackwardAttention(columns=torch.tensor([[1, 3], [0, 0]]), rows=torch.tensor([[4], [2]]))
    for p in probs:
        rec.observe(p)
    full = torch.stack(probs).amax(dim=(0, 2))  # (B, Nq, Nk)
    assert rec.column_max.shape == (2, 5, 2)  # O(N x C), not O(L x H x N x N)
    torch.testing.assert_close(rec.column_max[0], full[0][:, [1, 3]])
    torch.testing.assert_close(rec.row_max[1, 0], full[1][2])


def _cost(tiny, attention, columns=0):
    return lambda row, width: row_bytes(tiny.model.config, width, columns, attention, 1)


def test_long_batches_are_split_to_fit_the_memory_budget(tiny, monkeypatch):
    """Eager attention's N x N per row limits batches; without it, rows are linear in N."""
    eager_row = row_bytes(tiny.model.config, 100, 0, "eager", 1)
    monkeypatch.setattr("reba.engine.batching.MEMORY_BUDGET_BYTES", 2 * eager_row)
    prepared = [type("P", (), {"length": n})() for n in (100, 100, 100, 100, 100)]
    assert [len(b) for b in batches(prepared, 16, _cost(tiny, "eager"))] == [2, 2, 1]
    assert len(list(batches(prepared, 16, _cost(tiny, "fused", 50)))) < 3  # no N x N: larger
    assert [len(b) for b in batches(prepared, 16, _cost(tiny, "none"))] == [5]
    assert (
        row_bytes(tiny.model.config, 4000, 2000, "fused", 1)
        < row_bytes(tiny.model.config, 4000, 2000, "eager", 1) / 2
    )


def test_batches_are_cut_where_padding_costs_more_than_a_forward(tiny):
    prepared = [type("P", (), {"length": n})() for n in (10, 100, 11, 99, 12, 98)]
    cut = [[row[0].length for row in b] for b in batches(prepared, 16, _cost(tiny, "none"))]
    assert cut == [[100, 99, 98], [12, 11, 10]]


def _plan_cost(lengths, plan, overhead):
    return sum(overhead + (stop - start) * lengths[start] for start, stop in plan)


@pytest.mark.parametrize("seed", range(20))
def test_plan_batches_is_the_cheapest_plan(seed):
    """Against every way of cutting a short sorted list (brute force)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 10))
    lengths = sorted(rng.integers(1, 60, n).tolist(), reverse=True)
    limits = rng.integers(1, 5, n).tolist()
    overhead = int(rng.integers(0, 40))
    plan = plan_batches(lengths, limits, overhead)
    assert plan[0][0] == 0 and plan[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(plan, plan[1:]))
    assert all(stop - start <= limits[start] for start, stop in plan)
    cheapest = float("inf")
    for mask in itertools.product([False, True], repeat=n - 1):
        cuts = [0] + [i + 1 for i, c in enumerate(mask) if c] + [n]
        candidate = list(zip(cuts, cuts[1:]))
        if all(stop - start <= limits[start] for start, stop in candidate):
            cheapest = min(cheapest, _plan_cost(lengths, candidate, overhead))
    assert _plan_cost(lengths, plan, overhead) == cheapest


def test_truncation_keeps_copies_whole_and_is_reported(tiny, caplog):
    long_text = " ".join(["bank interest river cave"] * 40)
    emb = reba.Embedder(tiny, method="reba", k=3, max_length=61)
    result = emb.embed([long_text, "short text"])
    assert result.truncated == [0]
    assert "item 0 truncated" in caplog.text and "1 item(s) truncated" in caplog.text
    n = int(result.token_counts[0])
    assert len(tiny.prefix_ids) + 3 * n <= 61 < len(tiny.prefix_ids) + 3 * (n + 1)
    # The truncated input equals the reference on the cut text: every copy whole and identical.
    import reference as R

    want = R.sentence(tiny.model, tiny.tokenizer, long_text, "reba", 3, max_length=61)
    np.testing.assert_allclose(result.embeddings[0], want.numpy(), atol=1e-5)


def test_shared_forward_redoes_items_cut_at_the_largest_k(tiny):
    """Truncation depends on k: an item cut at k=3 but not at k=1 gets its own k=1 forward."""
    texts = [" ".join(["bank river cave"] * 6), "short text"]
    configs = [EmbeddingConfig("reba", 1), EmbeddingConfig("echo", 3), EmbeddingConfig("mean")]
    together = embed_configs(tiny, texts, configs, max_length=40)
    for cfg in configs:
        alone = reba.Embedder(tiny, method=cfg.method, k=cfg.k, max_length=40).embed(texts)
        np.testing.assert_allclose(together[cfg].embeddings, alone.embeddings, atol=1e-5)
        assert together[cfg].truncated == alone.truncated
    assert together[EmbeddingConfig("echo", 3)].truncated == [0]
    assert together[EmbeddingConfig("reba", 1)].truncated == []


def test_word_configs_sharing_a_forward_equal_separate_runs(tiny):
    items = [
        ("The bank raised interest rates again this year.", "bank"),
        ("我们去银行取钱，然后去河边散步。", "银行"),
    ]
    configs = [
        EmbeddingConfig("mean"),
        EmbeddingConfig("echo", 2),
        EmbeddingConfig("reba", 1),
        EmbeddingConfig("reba", 3),
    ]
    together = embed_configs(tiny, items, configs, level="word")
    for cfg in configs:
        alone = reba.Embedder(tiny, method=cfg.method, k=cfg.k).encode_words(items)
        np.testing.assert_allclose(together[cfg].embeddings, alone, atol=1e-5)
