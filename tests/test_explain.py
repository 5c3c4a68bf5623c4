"""``Embedder.explain``: the explained weights are the embedding run's own.

Reconstruction: a plain forward of the explained token ids (transformers alone, no reba code)
gives hidden states ``H``; ``sum_j weights[j] * H[layer][j]`` must be the embedding for every
single-input read-out without an intervention, and the inputs' mean of such sums for the
averaged multi-prompt methods. Interventions change the hidden states, so there the plain sum
must *differ* (the explanation says so).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import make_model

import reba
from reba.engine.explain import token_pieces

CORE = ["mean", "last", "reba", "reba-last", "pcot+reba"]  # on every tiny family
OTHERS = [
    "echo",
    "echo-last",
    "prompteol",
    "pcot",
    "ke",
    "echo-prompt",
    "prompteol+mean",
    "reba/prefix",
]  # fmt: skip, on tiny Llama (the read-outs above, other inputs)
AVERAGED = ["metaeol", "ck"]
INTERVENED = ["pcot+tp", "pcot+cp"]
TEXTS = ["我们去银行取钱", "The bank raised interest rates again this year."]


@torch.inference_mode()
def _plain_sum(lm, explained_input, layer: int) -> np.ndarray:
    ids = torch.tensor([explained_input.ids])
    out = lm.model(input_ids=ids, output_hidden_states=True, use_cache=False)
    hidden = (out.last_hidden_state if layer == -1 else out.hidden_states[layer])[0].double()
    return (torch.from_numpy(explained_input.weights) @ hidden).numpy()


def _embedder(tiny, name: str) -> reba.Embedder:
    method, _, option = name.partition("/")
    return reba.Embedder(tiny, method=method, include_prefix=option == "prefix")


@pytest.fixture(scope="module")
def llama():
    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


@pytest.mark.parametrize("method", CORE)
def test_weighted_hidden_states_reproduce_the_embedding(tiny, method):
    _check_reconstruction(tiny, method)


@pytest.mark.parametrize("method", OTHERS)
def test_other_inputs_reproduce_the_embedding_too(llama, method):
    _check_reconstruction(llama, method)


def _check_reconstruction(tiny, method: str) -> None:
    text = TEXTS[0]  # byte-level tokenizers split its characters over several tokens
    embedder = _embedder(tiny, method)
    explained = embedder.explain(text)
    assert explained.reconstructs and not explained.note
    [one] = explained.inputs
    assert len(one.ids) == len(one.tokens) == len(one.segments) == len(one.weights)
    assert abs(one.weights.sum() - 1) < 1e-9 and (one.weights >= 0).all()
    np.testing.assert_allclose(explained.embedding, embedder.encode(text), atol=1e-6, rtol=0)
    got = _plain_sum(tiny, one, explained.layer)
    np.testing.assert_allclose(got, explained.embedding, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("method", ["mean", "reba"])
def test_word_weights_reproduce_the_word_embedding(tiny, method):
    item = ("We sat on the river bank and watched the boats.", "bank")
    embedder = reba.Embedder(tiny, method=method)
    explained = embedder.explain(item)
    [one] = explained.inputs
    assert explained.word == "bank" and one.word
    assert set("".join(one.tokens[j] for j in one.word).split()) == {"bank"}
    np.testing.assert_allclose(explained.embedding, embedder.encode_words([item])[0], atol=1e-6)
    got = _plain_sum(tiny, one, explained.layer)
    np.testing.assert_allclose(got, explained.embedding, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("method", AVERAGED)
def test_averaged_methods_are_the_mean_of_their_inputs_sums(llama, method):
    explained = reba.Embedder(llama, method=method).explain(TEXTS[0])
    assert not explained.reconstructs and "mean of" in explained.note
    assert len(explained.inputs) > 1
    sums = [_plain_sum(llama, one, explained.layer) for one in explained.inputs]
    np.testing.assert_allclose(np.mean(sums, axis=0), explained.embedding, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("method", INTERVENED)
def test_interventions_say_why_the_plain_sum_differs(llama, method):
    explained = reba.Embedder(llama, method=method).explain(TEXTS[1])
    assert not explained.reconstructs and "changes the hidden states" in explained.note
    [one] = explained.inputs
    got = _plain_sum(llama, one, explained.layer)
    assert np.abs(got - explained.embedding).max() > 1e-3


def test_segments_mark_copies_and_template(llama):
    reba_input = reba.Embedder(llama, method="reba", k=3).explain("a bat flew").inputs[0]
    marks = reba_input.segments
    assert {"copy 1", "copy 2", "copy 3"} <= set(marks)
    n = marks.count("copy 1")
    assert marks.count("copy 2") == marks.count("copy 3") == n
    copies = [[t for t, m in zip(reba_input.tokens, marks) if m == f"copy {c}"] for c in (1, 2)]
    assert copies[0] == copies[1]
    prompt = reba.Embedder(llama, method="pcot").explain("a bat flew").inputs[0]
    text = "".join(t for t, m in zip(prompt.tokens, prompt.segments) if m == "text")
    assert text.strip() == "a bat flew"
    assert "think" in "".join(t for t, m in zip(prompt.tokens, prompt.segments) if m == "template")


def test_token_pieces_join_to_the_decoded_text(tiny):
    tokenizer = tiny.tokenizer
    for text in TEXTS:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        pieces = token_pieces(tokenizer, ids)
        assert len(pieces) == len(ids)
        assert "".join(pieces) == tokenizer.decode(ids, clean_up_tokenization_spaces=False)


def test_bad_item_raises_naming_it(llama):
    with pytest.raises(ValueError, match="item 0"):
        reba.Embedder(llama, method="reba").explain("   ")
