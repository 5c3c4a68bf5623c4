"""The fast path against the naive reference implementation of the spec (tests/reference.py)."""

import numpy as np
import pytest
import reference as R
from checks import assert_close

import reba

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out.",
    "我们去银行取钱，然后去河边散步。",
]
SENTENCE_CASES = [("mean", 1), ("last", 1), ("prompteol", 1)] + [
    (m, k) for m in ("echo", "echo-last", "reba", "reba-last") for k in (1, 2, 3)
]
WORD_ITEMS = [
    ("The bank raised interest rates again this year.", (4, 8)),  # "bank"
    ("我们去银行取钱，然后去河边散步。", (3, 5)),  # 银行, several byte-level tokens
    ("Repetition lets early tokens see the whole sentence.", (0, 10)),  # at the start
    ("A bat flew out of the cave at dusk.", (30, 34)),  # "dusk", at the end
]
WORD_CASES = [("mean", 1)] + [(m, k) for m in ("echo", "reba") for k in (1, 2, 3)]


def reference_sentences(lm, method, k, **kw):
    return np.stack([R.sentence(lm.model, lm.tokenizer, t, method, k, **kw).numpy() for t in TEXTS])


@pytest.mark.parametrize(("method", "k"), SENTENCE_CASES)
def test_sentence_methods_match_reference(tiny, method, k):
    got = reba.Embedder(tiny, method=method, k=k).encode(TEXTS, batch_size=3)
    assert_close(got, reference_sentences(tiny, method, k))


@pytest.mark.parametrize(("method", "k"), WORD_CASES)
def test_word_methods_match_reference(tiny, method, k):
    got = reba.Embedder(tiny, method=method, k=k).encode_words(WORD_ITEMS, batch_size=4)
    want = np.stack(
        [R.word(tiny.model, tiny.tokenizer, t, s, method, k).numpy() for t, s in WORD_ITEMS]
    )
    assert_close(got, want)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_reba_include_prefix_matches_reference(tiny, k):
    got = reba.Embedder(tiny, method="reba", k=k, include_prefix=True).encode(TEXTS)
    want = reference_sentences(tiny, "reba", k, include_prefix=True)
    assert_close(got, want)


@pytest.mark.parametrize(("method", "layer"), [("reba", 1), ("echo", -2), ("mean", 0)])
def test_other_layers_match_reference(tiny, method, layer):
    k = 1 if method == "mean" else 2
    got = reba.Embedder(tiny, method=method, k=k, layer=layer).encode(TEXTS)
    assert_close(got, reference_sentences(tiny, method, k, layer=layer))


def test_include_prefix_changes_reba_only_with_a_prefix(tiny):
    plain = reba.Embedder(tiny, method="reba", k=2).encode(TEXTS)
    with_prefix = reba.Embedder(tiny, method="reba", k=2, include_prefix=True).encode(TEXTS)
    assert np.allclose(plain, with_prefix) == (len(tiny.prefix_ids) == 0)


def test_word_occurring_twice_uses_first_occurrence_or_the_given_span(tiny):
    text = "The bank by the bank of the river."
    emb = reba.Embedder(tiny, method="reba", k=2)
    first, second = emb.encode_words([(text, "bank"), (text, (16, 20))])
    want_first = R.word(tiny.model, tiny.tokenizer, text, (4, 8), "reba", 2).numpy()
    want_second = R.word(tiny.model, tiny.tokenizer, text, (16, 20), "reba", 2).numpy()
    assert_close(first, want_first)
    assert_close(second, want_second)
    assert not np.allclose(first, second)


# Real weights: SmolLM2-135M (no BOS prefix, GPT-2-style tokenizer). One text per batch so the
# comparison is of formulas; batch invariance is tested in test_engine.py.
@pytest.mark.parametrize(("method", "k"), SENTENCE_CASES)
def test_smollm2_sentence_methods_match_reference(smollm2, method, k):
    got = reba.Embedder(smollm2, method=method, k=k).encode(TEXTS[:2], batch_size=1)
    want = reference_sentences(smollm2, method, k)[:2]
    assert_close(got, want)


@pytest.mark.parametrize(("method", "k"), WORD_CASES)
def test_smollm2_word_methods_match_reference(smollm2, method, k):
    items = [WORD_ITEMS[0], WORD_ITEMS[3]]
    got = reba.Embedder(smollm2, method=method, k=k).encode_words(items, batch_size=1)
    want = np.stack(
        [R.word(smollm2.model, smollm2.tokenizer, t, s, method, k).numpy() for t, s in items]
    )
    assert_close(got, want)
