"""KV-Embedding (key/value re-routing, ``kv``; the ``hybrid`` read-out; TwoNN layer choice)
against the naive reference (tests/reference_kv.py: one text at a time, attention written out
in float64 with the last token's key and value concatenated as slot 0)."""

import numpy as np
import pytest
import reference_kv as RK
from checks import assert_close

import reba
from reba.attention import force_path
from reba.eval.intrinsic import kv_layers, twonn
from reba.methods import parse_method

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱，然后去河边散步。" * 2,  # past the tiny Gemma's 16-token sliding window
]
# method -> the reference's arguments (template, read-out, layers: None = the middle third)
CASES = {
    "kv-embedding": (RK.KV_CONTEXT_T, "hybrid", None, 0.0),
    "kv-embedding-query": (RK.KV_QUERY_T, "hybrid", None, 0.0),
    "kv-embedding+reba": (RK.KV_CONTEXT_T, "reba", None, 0.0),
    "kv-embedding+reba-last": (RK.KV_CONTEXT_T, "reba-last", None, 0.0),
    "prompteol+kv[start=1,end=5,bias=1.5]": ('This sentence : "{text}" means in one word:"',
                                             "last", range(1, 5), 1.5),
    "mean+kv[start=0,end=6]": (None, "mean", range(0, 6), 0.0),
}  # fmt: skip


@pytest.fixture
def path():
    yield force_path
    force_path(None)


def reference(lm, name, texts):
    template, readout, layers, bias = CASES[name]
    return np.stack(
        [
            RK.embed(lm.model, lm.tokenizer, t, template, readout, layers, bias).numpy()
            for t in texts
        ]
    )


@pytest.mark.parametrize("name", list(CASES))
def test_kv_matches_reference(tiny, path, name):
    path("fused")
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("name", ["kv-embedding+reba", "prompteol+kv[start=1,end=5,bias=1.5]"])
def test_kv_on_the_eager_path_matches_reference(tiny, path, name):
    path("eager")
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


def test_kv_changes_the_vectors(tiny):
    """The re-routing is not a no-op: without it the same prompt and read-out differ."""
    with_kv = reference(tiny, "kv-embedding", TEXTS[:1])
    plain = RK.embed(tiny.model, tiny.tokenizer, TEXTS[0], layers=())
    assert np.abs(with_kv[0] - plain.numpy()).max() > 1e-3


@pytest.mark.parametrize("packing", [False, True])
@pytest.mark.parametrize("attention", ["eager", "fused"])
def test_kv_is_batch_invariant(tiny, path, attention, packing):
    """Padded or packed with other texts (one slot per input of a packed row), each text gets
    what it gets alone (hidden states and backward attention), on both attention paths."""
    texts = TEXTS * 3
    path(attention)
    emb = reba.Embedder(tiny, method="kv-embedding+reba")
    alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
    together = emb.embed(texts, batch_size=4, packing=packing).embeddings
    assert_close(together, np.tile(alone, (3, 1)))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("kv-embedding+tp", "at most one intervention"),
        ("prompteol+kv[layers=3]", "kv takes start=, end=, bias="),
        ("prompteol+kv[bias=high]", "kv\\[bias\\] must be float"),
    ],
)
def test_kv_refusals_in_names(name, message):
    with pytest.raises(ValueError, match=message):
        parse_method(name)


def test_kv_layers_out_of_range_are_refused(tiny):
    with pytest.raises(ValueError, match="0 <= start < end <= 6"):
        reba.Embedder(tiny, method="prompteol+kv[start=4,end=9]").encode(TEXTS[:1])


def test_hybrid_has_no_word_form(tiny):
    with pytest.raises(ValueError, match="word-level read-outs"):
        reba.Embedder(tiny, method="kv-embedding").encode_words([("A bat flew out", "bat")])


def test_kv_names_round_trip():
    for name in ["kv-embedding", "kv-embedding+reba", "prompteol+kv[start=1,end=3,bias=1]"]:
        parsed = parse_method(name)
        assert parsed.name == name
        assert parse_method(parsed.name).recipe == parsed.recipe


# --- TwoNN and the layer choice ------------------------------------------------------------


def _twonn_by_hand(points, discard=0.1):
    """Facco et al.'s fit with explicit loops: distinct points, each one's ratio of second to
    first neighbour distance, sorted; the line through the origin of -log(1 - i/n) against
    log(mu_i) over the smallest 90% of ratios."""
    distinct = []
    for p in points.tolist():
        if p not in distinct:
            distinct.append(p)
    x = np.array(distinct)
    n = len(x)
    ratios = []
    for i in range(n):
        distances = sorted(float(np.sqrt(((x[i] - x[j]) ** 2).sum())) for j in range(n) if j != i)
        ratios.append(distances[1] / distances[0])
    ratios.sort()
    kept = min(n - 1, int(n * (1 - discard)))
    xs = [np.log(ratios[i]) for i in range(kept)]
    ys = [-np.log(1 - (i + 1) / n) for i in range(kept)]
    return sum(a * b for a, b in zip(xs, ys)) / sum(a * a for a in xs)


def test_twonn_matches_a_loop_computation():
    points = np.random.default_rng(3).normal(size=(60, 7))
    points = np.concatenate([points, points[:5]])  # duplicates count once
    assert twonn(points) == pytest.approx(_twonn_by_hand(points), rel=1e-9)
    assert twonn(points, discard=0.0) == pytest.approx(_twonn_by_hand(points, 0.0), rel=1e-9)


@pytest.mark.parametrize("d", [2, 5])
def test_twonn_finds_the_dimension_of_a_linear_manifold(d):
    rng = np.random.default_rng(d)
    points = rng.uniform(size=(3000, d)) @ rng.normal(size=(d, 40))
    assert twonn(points) == pytest.approx(d, rel=0.1)


def test_twonn_refuses_too_few_points():
    with pytest.raises(ValueError, match="at least 3 distinct points"):
        twonn(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least 3 distinct points"):
        twonn(np.zeros((5, 4)))
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="equally far"):
        twonn(square)


def test_kv_layers_pick_the_minimum_after_the_skipped_layers():
    profile = [1.0, 2.0, 9.0, 8.0, 3.0, 4.0, 7.0, 8.0, 9.0, 9.0, 9.0]  # depth 10
    assert kv_layers(profile) == (4, 5)  # layers 0, 1 (< 0.2 * 10) skipped
    assert kv_layers(profile, skip=0.0, width=3) == (0, 3)
    assert kv_layers(profile, width=20) == (4, 10)


# Real weights: SmolLM2-135M (30 layers: re-routing at 10..19).
@pytest.mark.parametrize("name", ["kv-embedding", "kv-embedding+reba"])
def test_smollm2_kv_matches_reference(smollm2, name):
    got = reba.Embedder(smollm2, method=name).encode(TEXTS[:2], batch_size=2)
    assert_close(got, reference(smollm2, name, TEXTS[:2]))


@pytest.mark.parametrize("name", ["kv-embedding", "prompteol+kv[start=1,end=3,bias=0.5]"])
def test_kv_travels_in_a_recipe_file(name):
    import json

    from reba.methods.serialize import recipe_from_dict, recipe_to_dict

    recipe = parse_method(name).recipe
    data = json.loads(json.dumps(recipe_to_dict(recipe)))
    assert data["intervention"]["type"] == "kv"
    assert recipe_from_dict(data) == recipe


def test_kv_layers_skip_undefined_layers_and_refuse_when_none_is_left():
    nan = float("nan")
    assert kv_layers([nan, 3.0, nan, 1.0, 2.0], skip=0.0) == (3, 4)
    with pytest.raises(ValueError, match="no decoder layer from 1 to 3"):
        kv_layers([1.0, nan, nan, nan, 0.5])


def test_layer_profile_is_twonn_of_each_layer(tiny):
    from tiny_models import CORPUS

    from reba.eval.intrinsic import choose_kv_layers, layer_profile

    texts = list(dict.fromkeys(CORPUS))
    profile = layer_profile(tiny, texts)
    assert len(profile) == tiny.num_layers + 1
    third = reba.Embedder(tiny, method="prompteol", layer=3).encode(texts)
    assert profile[3] == pytest.approx(twonn(third), rel=1e-6)
    kv = choose_kv_layers(tiny, texts)
    assert (kv.start, kv.end) == kv_layers(profile)
