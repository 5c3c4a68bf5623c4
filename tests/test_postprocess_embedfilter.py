"""EmbedFilter's data-free projection (reba.postprocess.embedfilter) against a direct numpy SVD
and against the authors' form (CentreChen/EmbFilter set_lm_embed: torch.linalg.svd of the LM
head in float32, Vh[start:start + keep] applied to the last layer after the final norm)."""

import numpy as np
import pytest
import torch
from checks import assert_close
from tiny_models import make_model

import reba
from reba.postprocess import embedfilter_projection, embedfilter_state, load_state, save_state

TEXTS = ["The bank raised interest rates again this year.", "我们去银行取钱。", "A bat flew out"]


def unembedding(vocab=300, d=24, seed=0):
    """A random vocab x d matrix with well-separated singular values."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(vocab, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (u * np.geomspace(40, 0.5, d)) @ v.T


def assert_same_rows_up_to_sign(got, want, atol=1e-8):
    signs = np.sign(np.sum(got * want, axis=1, keepdims=True))
    np.testing.assert_allclose(got * signs, want, atol=atol)


@pytest.mark.parametrize(
    ("selection", "start", "rows"),
    [
        ("middle", None, slice(8, 16)),
        ("top", None, slice(0, 8)),
        ("bottom", None, slice(16, 24)),
        ("middle", 3, slice(3, 11)),
    ],
)
def test_projection_matches_a_direct_svd(selection, start, rows):
    w = unembedding()
    vh = np.linalg.svd(w, full_matrices=False)[2]  # rows by decreasing singular value
    got = embedfilter_projection(w, keep=8, selection=selection, start=start)
    assert got.shape == (8, 24)
    assert_same_rows_up_to_sign(got, vh[rows])


def test_middle_rule_with_an_odd_remainder_and_identity():
    w = unembedding(d=25)
    vh = np.linalg.svd(w, full_matrices=False)[2]
    assert_same_rows_up_to_sign(embedfilter_projection(w, keep=12), vh[6:18])  # (25-12)//2 = 6
    np.testing.assert_array_equal(embedfilter_projection(w, keep=25), np.eye(25))


def test_torch_weights_in_low_precision_are_read_in_float64():
    w = unembedding()
    half = torch.tensor(w, dtype=torch.bfloat16)
    got = embedfilter_projection(half, keep=8)
    want = embedfilter_projection(half.double().numpy(), keep=8)
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_state_ratio_round_trip_and_refusals(tmp_path):
    w = unembedding()
    state = embedfilter_state(w, ratio=2, source={"model": "random"})
    assert (state.dim, state.dim_out, state.fitted_on) == (24, 12, 0)
    loaded = load_state(tmp_path / "ef", dim=24, sha256=save_state(state, tmp_path / "ef"))
    x = np.random.default_rng(1).normal(size=(5, 24))
    np.testing.assert_allclose(loaded.apply(x), x @ embedfilter_projection(w, keep=12).T, atol=1e-5)
    with pytest.raises(ValueError, match="exactly one of keep"):
        embedfilter_state(w, keep=4, ratio=2)
    with pytest.raises(ValueError, match="keep must be an integer in 1..24"):
        embedfilter_projection(w, keep=30)
    with pytest.raises(ValueError, match="start 20 with keep 8 runs past d = 24"):
        embedfilter_projection(w, keep=8, start=20)
    with pytest.raises(ValueError, match="vocab x d"):
        embedfilter_projection(w.T, keep=8)


@torch.no_grad()
def authors_vectors(model, tokenizer, texts, keep, svd_dtype=torch.float32):
    """EmbFilter's run4*_prompteol.py, one text at a time: the base model's last hidden state
    (after the final norm) through Linear(Vh[start:start + keep]), then the last token. The
    authors take the SVD in float32 (``svd_dtype``)."""
    weight = model.get_input_embeddings().weight  # tied head: the un-embedding matrix
    _, _, vh = torch.linalg.svd(weight.to(svd_dtype), full_matrices=False)
    vh = vh.float()
    d = weight.shape[1]
    start = (d - keep) // 2
    lm_embed = torch.nn.Linear(d, keep, bias=False)
    lm_embed.weight = torch.nn.Parameter(vh[start : start + keep, :], requires_grad=False)
    rows = []
    for text in texts:
        ids = tokenizer(reba.PRESETS["prompteol"].inputs[0].template.format(text=text))
        out = model(input_ids=torch.tensor([ids["input_ids"]]))
        rows.append(lm_embed(out.last_hidden_state)[0, -1].numpy())
    return np.stack(rows)


def test_matches_the_authors_form_on_a_tiny_model():
    """Projecting reba's PromptEOL vector = the authors' projecting every position and taking
    the last (the map is linear), up to each direction's sign. With the SVD in float64 the two
    agree to float32 rounding; the authors' float32 SVD moves the directions by ~2e-5 (the
    middle singular values of this head are ~0.05 apart), so their vectors differ by ~1e-4."""
    model, tokenizer = make_model("llama")
    state = embedfilter_state(model.get_input_embeddings().weight, keep=16)
    vectors = reba.Embedder((model, tokenizer), method="prompteol").encode(TEXTS)
    got = state.apply(vectors)
    for svd_dtype, tolerance in ((torch.float64, 1e-5), (torch.float32, 1e-3)):
        want = authors_vectors(model, tokenizer, TEXTS, keep=16, svd_dtype=svd_dtype)
        signs = np.sign(np.sum(got * want, axis=0))
        assert_close(got * signs, want, tolerance)
