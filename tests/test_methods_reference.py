"""Every prompt preset, and a sample of combinations with ReBA read-outs, TP and CP, against
the naive reference (tests/reference.py: one text at a time, whole-string tokenization with
the tokenizer's own special tokens, TP by running the layers by hand, CP by two explicit
passes, MetaEOL by eight separate encodes averaged)."""

import numpy as np
import pytest
import reference as R
from checks import assert_close

import reba
from reba.methods import PRESETS

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱。",
]
PROMPT_PRESETS = [  # LM head, values: tests/test_{heads,values}_reference.py; MoEE
    # (mixture-of-experts models only): tests/test_moee.py; HTP, KV-Embedding and in-context
    # PromptEOL: tests/test_htp_reference.py, tests/test_kv_embedding.py, tests/test_icl.py
    name
    for name, recipe in PRESETS.items()
    if recipe.prompts
    and recipe.embedfilter is None
    and recipe.sparse is None
    and not recipe.moee
    and recipe.icl is None
    and getattr(recipe.intervention, "name", None) in (None, "tp", "cp")
    and recipe.values is None
]
COMBINATIONS = [
    "prompteol+reba",
    "pcot+reba-last",
    "ke+mean",
    "echo-prompt+reba",
    "prompteol+tp+reba",
    "pcot+tp+reba-last",
    "ke+cp+reba",
    "prompteol+cp+reba-last",
    "ck+cp+reba",
    "metaeol+tp+reba",
]


def reference(lm, name, texts, layer=None):
    return np.stack([R.preset(lm.model, lm.tokenizer, name, t, layer).numpy() for t in texts])


@pytest.mark.parametrize("name", PROMPT_PRESETS)
def test_prompt_presets_match_reference(tiny, name):
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("name", COMBINATIONS)
def test_combinations_match_reference(tiny, name):
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("name", ["prompteol", "pcot+tp", "ke+cp+reba"])
def test_prompt_methods_at_another_layer(tiny, name):
    got = reba.Embedder(tiny, method=name, layer=3).encode(TEXTS[:2])
    assert_close(got, reference(tiny, name, TEXTS[:2], 3))


@pytest.mark.parametrize("packing", [False, True])
def test_interventions_are_batch_invariant(tiny, packing):
    """Padded or packed with other texts, each text gets what it gets alone."""
    texts = TEXTS * 3
    for name in ("prompteol+tp+reba", "pcot+cp+reba-last", "metaeol"):
        emb = reba.Embedder(tiny, method=name)
        alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
        together = emb.embed(texts, batch_size=4, packing=packing).embeddings
        assert_close(together, np.tile(alone, (3, 1)))


WORD_ITEMS = [
    ("The bank raised interest rates again this year.", (4, 8)),
    ("我们去银行取钱。", (3, 5)),
]


@pytest.mark.parametrize("name", ["prompteol+mean", "pcot+reba"])
def test_word_level_over_prompts_matches_reference(tiny, name):
    base, readout = name.split("+")
    got = reba.Embedder(tiny, method=name).encode_words(WORD_ITEMS)
    want = np.stack(
        [
            R.prompted_word(
                tiny.model, tiny.tokenizer, R.PROMPTS[base][0], t, s, readout, R.OWN_LAYER[base]
            ).numpy()
            for t, s in WORD_ITEMS
        ]
    )
    assert_close(got, want)


def test_prompts_without_a_word_form_say_so(tiny):
    with pytest.raises(ValueError, match="no word-level form.*pcot\\+mean or pcot\\+reba"):
        reba.Embedder(tiny, method="pcot").encode_words(WORD_ITEMS)


# Real weights: every preset on SmolLM2-135M (30 layers: the papers' layers scaled).
@pytest.mark.parametrize("name", PROMPT_PRESETS + ["prompteol+tp+reba", "ke+cp+reba-last"])
def test_smollm2_prompt_presets_match_reference(smollm2, name):
    got = reba.Embedder(smollm2, method=name).encode(TEXTS[:2], batch_size=2)
    assert_close(got, reference(smollm2, name, TEXTS[:2]))
