"""EmbedFilter and PromptReps (read-outs through the LM head) against the naive reference
(tests/reference.py: a direct float64 SVD of the head, the whole vocabulary's logits), on the
four tiny families with their heads (Llama and Qwen2 untied, Gemma 3 and GPT-2 tied) and on
SmolLM2-135M's real weights; padded, packed, batch-invariant; and where the head comes from."""

import numpy as np
import pytest
import reference as R
import torch
from checks import assert_close
from conftest import FAMILIES
from tiny_models import make_causal_lm, make_model

import reba
from reba.engine.heads import projection_of
from reba.inputs.stopwords import ENGLISH
from reba.methods import parse_method
from reba.postprocess import embedfilter_state

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱。",
]


@pytest.fixture(scope="module", params=FAMILIES)
def tiny_lm(request):
    """(LoadedModel of a tiny causal LM passed in memory, its head's weight read directly)."""
    model, tokenizer = make_causal_lm(request.param)
    lm = reba.wrap_model(model, tokenizer, name=f"tiny-lm-{request.param}")
    return lm, model.get_output_embeddings().weight.detach()


def filtered(lm, W, base, texts, keep=None, start=None, **kw):
    """A base method's reference vectors, projected as EmbedFilter does."""
    if base == "reba":
        vectors = [R.sentence(lm.model, lm.tokenizer, t, "reba", 2, **kw) for t in texts]
    else:
        vectors = [R.preset(lm.model, lm.tokenizer, base, t) for t in texts]
    P = R.svd_rows(W, keep or W.shape[1] // 2, start)
    return np.stack([(P @ v).numpy() for v in vectors])


@pytest.mark.parametrize("echo", [False, True])
def test_embedfilter_presets_match_reference(tiny_lm, echo):
    lm, W = tiny_lm
    got = reba.Embedder(lm, method="embedfilter-echo" if echo else "embedfilter").encode(TEXTS)
    want = [R.embedfilter(lm.model, lm.tokenizer, W, t, echo=echo).numpy() for t in TEXTS]
    assert got.shape == (3, W.shape[1] // 2)
    assert_close(got, np.stack(want))


@pytest.mark.parametrize(
    ("name", "base", "keep", "start"),
    [
        ("prompteol+embedfilter[ratio=4]", "prompteol", 8, None),
        ("reba+embedfilter", "reba", None, None),
        ("pcot+tp+embedfilter[keep=5,start=3]", "pcot+tp", 5, 3),
        ("ck+cp+embedfilter[selection=top]", "ck+cp", 16, 0),
    ],
)
def test_embedfilter_combines(tiny_lm, name, base, keep, start):
    lm, W = tiny_lm
    got = reba.Embedder(lm, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, filtered(lm, W, base, TEXTS, keep, start))


def test_embedfilter_at_word_level_matches_reference(tiny_lm):
    lm, W = tiny_lm
    items = [(TEXTS[0], (4, 8)), (TEXTS[2], (3, 5))]
    got = reba.Embedder(lm, method="prompteol+mean+embedfilter").encode_words(items)
    P = R.svd_rows(W, W.shape[1] // 2)
    want = [
        (P @ R.prompted_word(lm.model, lm.tokenizer, R.PROMPTEOL_T, t, s, "mean", -1)).numpy()
        for t, s in items
    ]
    assert_close(got, np.stack(want))


@pytest.mark.parametrize("name", ["promptreps", "promptreps-query"])
def test_promptreps_matches_reference(tiny_lm, name):
    lm, W = tiny_lm
    template = R.PROMPTREPS_QUERY_T if name.endswith("query") else R.PROMPTREPS_PASSAGE_T
    texts = [*TEXTS, "the of and"]  # all stopwords: the fallback over the vocabulary
    result = reba.Embedder(lm, method=name).embed(texts, batch_size=4)
    want = [R.promptreps(lm.model, lm.tokenizer, W, template, t, ENGLISH) for t in texts]
    assert_close(result.embeddings, np.stack([h.numpy() for h, _ in want]))
    assert_sparse_close(result.sparse, [s for _, s in want])


def assert_sparse_close(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert sorted(g) == sorted(w)
        if w:  # empty when every candidate's logit is <= 0
            assert_close([g[i] for i in sorted(g)], [w[i] for i in sorted(w)])


@pytest.mark.parametrize("name", ["prompteol+sparse[top=3,stopwords=none]", "ke+cp+sparse"])
def test_sparse_combines(tiny_lm, name):
    lm, W = tiny_lm
    base = name.split("+sparse")[0]
    top, stop = (3, ()) if "top=3" in name else (128, ENGLISH)
    got = reba.Embedder(lm, method=name).embed(TEXTS, batch_size=3)
    for text, sparse in zip(TEXTS, got.sparse):
        if base == "prompteol":
            ids, *_ = R.prompt_input(lm.tokenizer, R.PROMPTEOL_T, text)
            h = R.run(lm.model, ids, -1, attention=False)[0][-1]
        else:
            H, _, _ = R.contrastive_prompting(
                lm.model, lm.tokenizer, R.KE_T, text, -1, R.scaled(lm.model, 6), 3.0
            )
            h = H[-1]
        logits = W.double() @ h
        words = [w for w in R.re.findall(r"\w+", text.lower()) if w not in stop]
        ids = sorted(
            {i for w in words for i in lm.tokenizer(w, add_special_tokens=False)["input_ids"]}
        )
        values = torch.log1p(torch.relu(logits[ids])).tolist()
        ranked = sorted(zip(ids, values), key=lambda p: -p[1])[:top]
        assert_sparse_close([sparse], [{i: v for i, v in ranked if v > 0}])


@pytest.mark.parametrize("packing", [False, True])
def test_head_readouts_are_batch_invariant(tiny_lm, packing):
    lm, _ = tiny_lm
    texts = TEXTS * 3
    for name in ("embedfilter", "promptreps", "pcot+tp+embedfilter+reba"):
        emb = reba.Embedder(lm, method=name)
        alone = [emb.embed([t], batch_size=1) for t in TEXTS]
        together = emb.embed(texts, batch_size=4, packing=packing)
        assert_close(
            together.embeddings, np.tile(np.stack([a.embeddings[0] for a in alone]), (3, 1))
        )
        if together.sparse is not None:
            assert_sparse_close(together.sparse, [a.sparse[0] for a in alone] * 3)


def test_describe_records_the_projection_digest(tiny_lm):
    lm, W = tiny_lm
    emb = reba.Embedder(lm, method="embedfilter")
    state = embedfilter_state(W, ratio=2, source={"model": lm.name})
    assert emb.describe()["embedfilter"]["sha256"] == state.digest
    assert emb.describe()["dimension"] == W.shape[1] // 2 == emb.dimension
    part = parse_method("embedfilter").recipe.embedfilter
    assert projection_of(lm, part) is projection_of(lm, part)  # computed once per model


# --- where the head comes from --------------------------------------------------------------


@pytest.fixture(scope="module")
def untied_folder(tmp_path_factory):
    """A tiny Llama causal LM with an untied head, saved as a Hugging Face folder."""
    model, tokenizer = make_causal_lm("llama", seed=3)
    assert not model.config.tie_word_embeddings
    folder = tmp_path_factory.mktemp("untied")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, model.lm_head.weight.detach().clone()


def test_untied_head_is_read_only_for_methods_that_use_it(untied_folder):
    folder, W = untied_folder
    lm = reba.load_model(folder, device="cpu")
    reba.Embedder(lm, method="prompteol").encode(TEXTS[:1])
    assert lm.head is None and not hasattr(lm.model, "lm_head")  # no head for other methods
    got = reba.Embedder(lm, method="embedfilter").encode(TEXTS)
    assert lm.head is None  # EmbedFilter keeps its projection, not the head
    want = [R.embedfilter(lm.model, lm.tokenizer, W, t).numpy() for t in TEXTS]
    assert_close(got, np.stack(want))
    reba.Embedder(lm, method="promptreps").encode_sparse(TEXTS[:1])
    assert torch.equal(lm.head, W)  # PromptReps keeps the head (it multiplies every text)


def test_untied_head_not_available_says_so():
    model, tokenizer = make_model("llama")  # a base model in memory: no head, no folder
    emb = reba.Embedder((model, tokenizer), method="embedfilter")
    with pytest.raises(ValueError, match="not tied.*Pass the causal LM itself"):
        emb.encode(TEXTS[:1])


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("promptreps+mean", "dense read-out must be 'last'"),
        ("metaeol+sparse", "sparse vectors of several prompts are not averaged"),
        ("prompteol+embedfilter[ratio=0]", "ratio must be a positive integer"),
        ("prompteol+embedfilter[selection=edges]", "selection must be one of"),
        ("prompteol+sparse[bogus=1]", "sparse takes top=, fallback=, stopwords="),
    ],
)
def test_undefined_combinations_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        parse_method(name)


def test_sparse_refused_at_word_level_and_on_dense_methods(tiny_lm):
    lm, _ = tiny_lm
    with pytest.raises(ValueError, match="sentence-level only"):
        reba.Embedder(lm, method="promptreps").encode_words([(TEXTS[0], "bank")])
    with pytest.raises(ValueError, match="no sparse read-out.*prompteol\\+sparse"):
        reba.Embedder(lm, method="prompteol").encode_sparse(TEXTS[0])
    with pytest.raises(ValueError, match="embedfilter: keeps 64 directions, the model has d = 32"):
        reba.Embedder(lm, method="prompteol+embedfilter[keep=64]").encode(TEXTS[:1])


# Real weights: SmolLM2-135M (tied head, 49,152 x 576; no BOS prefix).
@pytest.fixture(scope="module")
def smollm2_head(smollm2):
    return smollm2.model.get_input_embeddings().weight.detach()


@pytest.mark.parametrize("echo", [False, True])
def test_smollm2_embedfilter_matches_reference(smollm2, smollm2_head, echo):
    """(``echo``: the authors' Echo input, with the real tokenizer's BOS and EOS.)"""
    method = "embedfilter-echo" if echo else "embedfilter"
    got = reba.Embedder(smollm2, method=method).encode(TEXTS[:2], batch_size=2)
    want = [
        R.embedfilter(smollm2.model, smollm2.tokenizer, smollm2_head, t, echo=echo)
        for t in TEXTS[:2]
    ]
    assert_close(got, np.stack([w.numpy() for w in want]))


def test_smollm2_promptreps_matches_reference(smollm2, smollm2_head):
    result = reba.Embedder(smollm2, method="promptreps").embed(TEXTS[:2], batch_size=2)
    want = [
        R.promptreps(
            smollm2.model, smollm2.tokenizer, smollm2_head, R.PROMPTREPS_PASSAGE_T, t, ENGLISH
        )
        for t in TEXTS[:2]
    ]
    assert_close(result.embeddings, np.stack([h.numpy() for h, _ in want]))
    assert_sparse_close(result.sparse, [s for _, s in want])


@pytest.mark.parametrize(
    "name", ["embedfilter", "promptreps", "prompteol+embedfilter[keep=5,selection=top]"]
)
def test_head_parts_travel_in_a_recipe_file(name):
    import json

    from reba.methods.serialize import recipe_from_dict, recipe_to_dict

    recipe = parse_method(name).recipe
    data = json.loads(json.dumps(recipe_to_dict(recipe)))
    assert recipe_from_dict(data) == recipe
    assert "embedfilter" not in recipe_to_dict(parse_method("reba").recipe)  # keys unchanged
