"""VA and AlignedWVA (value read-outs) against the naive reference (tests/reference_values.py:
values recomputed from each layer's input, attention outputs from eager attention's
probabilities) on the four tiny families and on SmolLM2-135M's real weights; padded,
packed, batch-invariant; and the combinations reba refuses."""

import json

import numpy as np
import pytest
import reference as R
import reference_values as RV
import torch
from checks import assert_close

import reba
from reba.methods import parse_method
from reba.methods.serialize import recipe_from_dict, recipe_to_dict

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱。",
]


def va_reference(lm, text, name):
    """The reference VA vector of ``name`` (one of the forms tested below)."""
    model, tok = lm.model, lm.tokenizer
    if name.startswith("va"):  # the plain text, mean of its tokens
        z, p, n = R.build_input(tok, text, 1)
        return RV.va(model, z, RV.indicator(len(z), range(p, p + n)))
    if name == "prompteol+va":
        ids, *_ = R.prompt_input(tok, R.PROMPTEOL_T, text)
        return RV.va(model, ids, RV.indicator(len(ids), [len(ids) - 1]))
    if name == "echo+va[start=1,end=-1,norm=l2]":  # the second copy's tokens
        z, p, n = R.build_input(tok, text, 2)
        return RV.va(model, z, RV.indicator(len(z), range(p + n, p + 2 * n)), 1, -1, "l2")
    if name == "echo+reba+va":  # ReBA's weights over copy 1's rows, on the values
        z, p, n = R.build_input(tok, text, 2)
        _, S = R.run(model, z, attention=True)
        return RV.va(model, z, sum(torch.triu(S)[i] for i in range(p, p + n)))
    raise ValueError(name)


def wva_reference(lm, text, name):
    model, tok = lm.model, lm.tokenizer
    if name in ("alignedwva", "prompteol+alignedwva[start=2,norm=l2]"):
        ids, *_ = R.prompt_input(tok, R.PROMPTEOL_T, text)
        kw = {"start": 2, "norm": "l2"} if "start" in name else {}
        return RV.alignedwva(model, ids, **kw)
    if name == "echo+last+alignedwva[end=3]":
        z, *_ = R.build_input(tok, text, 2)
        return RV.alignedwva(model, z, end=3)
    raise ValueError(name)


def k_of(name):
    return 2 if name.startswith("echo") else 1


@pytest.mark.parametrize(
    "name", ["va", "prompteol+va", "echo+va[start=1,end=-1,norm=l2]", "echo+reba+va"]
)
def test_va_matches_reference(tiny, name):
    if tiny.name == "tiny-gpt2":
        pytest.skip("GPT-2's fused c_attn: VA refused (test_va_refused_on_fused_qkv)")
    got = reba.Embedder(tiny, method=name, k=k_of(name)).encode(TEXTS, batch_size=3)
    want = np.stack([va_reference(tiny, t, name).numpy() for t in TEXTS])
    kv = tiny.model.config.num_key_value_heads * (
        getattr(tiny.model.config, "head_dim", None)
        or tiny.model.config.hidden_size // tiny.model.config.num_attention_heads
    )
    assert got.shape == (3, kv)  # the values' width (grouped-query: narrower than d)
    assert_close(got, want)


@pytest.mark.parametrize(
    "name",
    ["alignedwva", "prompteol+alignedwva[start=2,norm=l2]", "echo+last+alignedwva[end=3]"],
)
def test_alignedwva_matches_reference(tiny, name):
    got = reba.Embedder(tiny, method=name, k=k_of(name)).encode(TEXTS, batch_size=3)
    want = np.stack([wva_reference(tiny, t, name).numpy() for t in TEXTS])
    assert got.shape == (3, tiny.dimension)
    assert_close(got, want)


@pytest.mark.parametrize("packing", [False, True])
def test_value_readouts_are_batch_invariant(tiny, packing):
    names = ["alignedwva", "prompteol+alignedwva[norm=l2]", "ke+cp+alignedwva"]
    names += [] if tiny.name == "tiny-gpt2" else ["va", "echo+reba+va", "pcot+tp+va"]
    texts = TEXTS * 3
    for name in names:
        emb = reba.Embedder(tiny, method=name, k=k_of(name))
        alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
        together = emb.embed(texts, batch_size=4, packing=packing).embeddings
        assert_close(together, np.tile(alone, (3, 1)))


def test_va_refused_on_fused_qkv():
    from tiny_models import make_model

    model, tokenizer = make_model("gpt2")
    lm = reba.wrap_model(model, tokenizer, name="tiny-gpt2-fused")
    with pytest.raises(ValueError, match="GPT2Model.*no separate attention value projection"):
        reba.Embedder(lm, method="prompteol+va").encode(TEXTS[:1])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("echo+alignedwva", "read-out must be 'last', got 'mean'"),
        ("prompteol+alignedwva+reba", "read-out must be 'last', got 'reba'"),
        ("va+embedfilter", "do not combine"),
        ("prompteol+va+alignedwva", "at most one value read-out"),
        ("prompteol+va[norm=unit]", "norm must be one of none, l2"),
        ("prompteol+va[layers=3]", "va takes start=, end=, norm="),
    ],
)
def test_undefined_value_combinations_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        parse_method(name)


def test_value_readouts_refuse_a_layer_or_an_empty_range(tiny):
    with pytest.raises(ValueError, match="averages a range of layers"):
        reba.Embedder(tiny, method="alignedwva", layer=3).encode(TEXTS[:1])
    with pytest.raises(ValueError, match=r"selects no decoder layer of a 6-layer model"):
        reba.Embedder(tiny, method="prompteol+alignedwva[start=4,end=2]").encode(TEXTS[:1])


def test_value_parts_travel_in_a_recipe_file_and_keys():
    recipe = parse_method("prompteol+alignedwva[start=2,norm=l2]").recipe
    data = json.loads(json.dumps(recipe_to_dict(recipe)))
    assert data["values"] == {"type": "alignedwva", "start": 2, "end": None, "norm": "l2"}
    assert recipe_from_dict(data) == recipe
    assert "values" not in recipe_to_dict(parse_method("prompteol").recipe)  # keys unchanged
    assert parse_method("prompteol+alignedwva").name == "alignedwva"  # the preset's spelling


def test_value_readouts_at_word_level(tiny):
    """VA pools a word's values (mean read-out); AlignedWVA (last token only) has no word form."""
    if tiny.name == "tiny-gpt2":
        pytest.skip("GPT-2's fused c_attn: VA refused")
    text, span = TEXTS[0], (4, 8)
    got = reba.Embedder(tiny, method="va").encode_words([(text, span)])
    z, p, n = R.build_input(tiny.tokenizer, text, 1)
    rows = [p + i for i in R.word_tokens(tiny.tokenizer, text, span)]
    want = RV.va(tiny.model, z, RV.indicator(len(z), rows))
    assert_close(got, want.numpy()[None])
    with pytest.raises(ValueError, match="no word-level form"):
        reba.Embedder(tiny, method="alignedwva").encode_words([(text, span)])


# Real weights: SmolLM2-135M (grouped-query attention: 9 heads, 3 key/value heads of 64).
def test_smollm2_value_readouts_match_reference(smollm2):
    texts = TEXTS[:2]
    got = reba.Embedder(smollm2, method="va").encode(texts, batch_size=2)
    want = [va_reference(smollm2, t, "va").numpy() for t in texts]
    assert got.shape == (2, 192)
    assert_close(got, np.stack(want))
    got = reba.Embedder(smollm2, method="alignedwva").encode(texts, batch_size=2)
    want = [wva_reference(smollm2, t, "alignedwva").numpy() for t in texts]
    assert_close(got, np.stack(want))
