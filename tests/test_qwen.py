"""Qwen2.5-Coder-0.5B (optional, hash-pinned; ``make test-qwen``): the fused path, every preset
and the word level against the naive reference (tests/reference.py), packing.

Qwen2 is the third architecture on real weights: biases on the query/key/value projections,
no BOS, 24 layers (the papers' layers scaled), and attention logits reaching ~1,500 in the
first layers, where float32 resolves a log-sum-exp only to 1e-4 (what ``PRECISE_LSE`` is for).
Two short texts; each text is compared with the reference computed alone.
"""

import importlib
from pathlib import Path

import numpy as np
import pytest
import reference as R
from checks import assert_close
from safetensors import safe_open

import reba
from reba.attention import backward_attention_path, force_path, fused, probe
from reba.inputs.stopwords import ENGLISH
from reba.methods import PRESETS

pytestmark = pytest.mark.qwen

TEXTS = ["The bank raised interest rates.", "我们去银行取钱。"]
WORDS = [("The bank raised interest rates.", (4, 8)), ("我们去银行取钱。", (2, 4))]
COMBINATIONS = ["pcot+reba", "prompteol+tp+reba", "ke+cp+reba-last", "echo-prompt+reba"]
# Read-outs through the LM head (Qwen2's is untied: 151,936 x 896), tested on their own below.
HEAD_PRESETS = [n for n, r in PRESETS.items() if r.embedfilter is not None or r.sparse is not None]


def test_the_probe_picks_the_fused_path(qwen):
    probe._verdicts.pop(qwen.model, None)
    assert backward_attention_path(qwen.model) == "fused"


def test_fused_equals_eager_over_several_blocks(qwen, monkeypatch):
    """Blocks of 16 query rows (as 512-row blocks of a long input): the eager path's vectors."""
    monkeypatch.setattr(fused, "QUERY_BLOCK", 16)
    text = "The river bank flooded after the storm, and the bank closed early for the day."
    emb = reba.Embedder(qwen, method="reba", k=3)
    try:
        force_path("eager")
        eager = emb.embed([text, TEXTS[1]]).embeddings
        force_path("fused")
        got = emb.embed([text, TEXTS[1]])
    finally:
        force_path(None)
    assert int(got.token_counts[0]) * 3 > 2 * 16
    assert_close(got.embeddings, eager)


def _reference(lm, name, texts):
    recipe = PRESETS.get(name)
    if recipe is not None and not recipe.prompts:
        return np.stack(
            [R.sentence(lm.model, lm.tokenizer, t, name, recipe.default_k).numpy() for t in texts]
        )
    return np.stack([R.preset(lm.model, lm.tokenizer, name, t).numpy() for t in texts])


# The presets tests/reference.py writes out (repetition, the prompts, TP and CP); the 2026
# parts are checked below with their own references; MoEE needs a mixture-of-experts model
# (Qwen2.5-Coder is dense): tests/test_moee.py.
CLASSIC = [
    n
    for n, r in PRESETS.items()
    if n not in HEAD_PRESETS
    and not r.moee
    and r.values is None
    and r.icl is None
    and getattr(r.intervention, "name", None) in (None, "tp", "cp")
]


@pytest.mark.parametrize("name", CLASSIC + COMBINATIONS)
def test_every_preset_matches_reference(qwen, name):
    got = reba.Embedder(qwen, method=name).encode(TEXTS, batch_size=2)
    assert_close(got, _reference(qwen, name, TEXTS))


@pytest.fixture(scope="module")
def qwen_head(qwen):
    """``lm_head.weight`` read straight from the converted checkpoint (not through reba)."""
    with safe_open(str(Path(qwen.source) / "model.safetensors"), "pt") as f:
        return f.get_tensor("lm_head.weight").float()


@pytest.mark.parametrize("echo", [False, True])
def test_embedfilter_presets_match_reference(qwen, qwen_head, echo):
    name = "embedfilter-echo" if echo else "embedfilter"
    got = reba.Embedder(qwen, method=name).encode(TEXTS, batch_size=2)
    want = [R.embedfilter(qwen.model, qwen.tokenizer, qwen_head, t, echo=echo) for t in TEXTS]
    assert_close(got, np.stack([w.numpy() for w in want]))


@pytest.mark.parametrize("name", ["promptreps", "promptreps-query"])
def test_promptreps_matches_reference(qwen, qwen_head, name):
    template = R.PROMPTREPS_QUERY_T if name.endswith("query") else R.PROMPTREPS_PASSAGE_T
    result = reba.Embedder(qwen, method=name).embed(TEXTS, batch_size=2)
    want = [
        R.promptreps(qwen.model, qwen.tokenizer, qwen_head, template, t, ENGLISH) for t in TEXTS
    ]
    assert_close(result.embeddings, np.stack([h.numpy() for h, _ in want]))
    for got, (_, sparse) in zip(result.sparse, want):
        assert sorted(got) == sorted(sparse)
        assert_close([got[i] for i in sorted(got)], [sparse[i] for i in sorted(sparse)])


def test_head_presets_are_all_tested():
    tested = ["embedfilter", "embedfilter-echo", "promptreps", "promptreps-query"]
    assert sorted(HEAD_PRESETS) == tested


@pytest.mark.parametrize(("method", "k"), [("reba", 3), ("echo", 3), ("reba-last", 1)])
def test_other_repetitions_match_reference(qwen, method, k):
    got = reba.Embedder(qwen, method=method, k=k).encode(TEXTS, batch_size=2)
    want = np.stack([R.sentence(qwen.model, qwen.tokenizer, t, method, k).numpy() for t in TEXTS])
    assert_close(got, want)


@pytest.mark.parametrize(("method", "k"), [("mean", 1), ("echo", 2), ("reba", 2)])
def test_word_level_matches_reference(qwen, method, k):
    got = reba.Embedder(qwen, method=method, k=k).encode_words(WORDS, batch_size=2)
    want = np.stack([R.word(qwen.model, qwen.tokenizer, t, s, method, k).numpy() for t, s in WORDS])
    assert_close(got, want)


def test_word_level_over_a_prompt_matches_reference(qwen):
    got = reba.Embedder(qwen, method="pcot+reba").encode_words(WORDS)
    want = np.stack(
        [
            R.prompted_word(
                qwen.model, qwen.tokenizer, R.PROMPTS["pcot"][0], t, s, "reba", R.OWN_LAYER["pcot"]
            ).numpy()
            for t, s in WORDS
        ]
    )
    assert_close(got, want)


@pytest.mark.parametrize("name", ["reba", "prompteol+tp+reba", "pcot+cp"])
def test_packed_equals_padded(qwen, name):
    texts = [*TEXTS, "A bat flew out.", "He swung the bat and hit the ball.", "这个苹果很甜。"]
    emb = reba.Embedder(qwen, method=name)
    padded = emb.embed(texts, batch_size=5, packing=False).embeddings
    packed = emb.embed(texts, batch_size=5, packing=True)
    np.testing.assert_array_equal(packed.indices, np.arange(len(texts)))
    assert_close(packed.embeddings, padded)


# The 2026 parts on Qwen2's real weights, each against its own naive reference (the same
# functions their tiny-model and SmolLM2 tests use).
@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("test_htp_reference", "htp"),
        ("test_htp_reference", "prompteol+htp"),
        ("test_icl", "prompteol-icl"),
        ("test_icl", "prompteol-icl+tp+reba-last"),
        ("test_kv_embedding", "kv-embedding"),
        ("test_kv_embedding", "kv-embedding+reba"),
    ],
)
def test_2026_parts_match_reference(qwen, module, name):
    reference = importlib.import_module(module).reference
    got = reba.Embedder(qwen, method=name).encode(TEXTS, batch_size=2)
    assert_close(got, reference(qwen, name, TEXTS))


def test_value_readouts_match_reference(qwen):
    refs = importlib.import_module("test_values_reference")
    for name, reference in [("va", refs.va_reference), ("alignedwva", refs.wva_reference)]:
        got = reba.Embedder(qwen, method=name).encode(TEXTS, batch_size=2)
        assert_close(got, np.stack([reference(qwen, t, name).numpy() for t in TEXTS]))


def test_every_preset_is_checked_on_qwen():
    checked = {"htp", "prompteol-icl", "kv-embedding", "va", "alignedwva"}
    moee = {n for n, r in PRESETS.items() if r.moee}
    query_forms = {"htp-query", "kv-embedding-query"}  # their document form is checked
    assert set(PRESETS) == set(CLASSIC) | set(HEAD_PRESETS) | checked | moee | query_forms
