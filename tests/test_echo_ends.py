"""EmbedFilter's Echo input, ``[BOS] + prompt + [EOS]`` with the EOS pooled (``Prompt.ends``),
against the naive reference (tests/reference.py ``echo_with_ends``, written after the authors'
``transform_func`` in CentreChen/EmbFilter's run4*_echo.py) on the four tiny families: alone,
one by one, padded and packed, with the other read-outs, through the grammar and a saved
recipe; and the BOS rule (the tokenizer's, else its EOS) and its refusal without an EOS."""

import copy

import numpy as np
import pytest
import reference as R
from checks import assert_close
from conftest import FAMILIES
from tiny_models import make_model

import reba
from reba.methods import parse_method
from reba.methods.serialize import recipe_from_dict, recipe_to_dict

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱。",
    "Short.",
]
ECHO_T = "Rewrite the following sentence: {text}\nThe rewritten sentence: {text}"


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request):
    model, tokenizer = make_model(request.param)
    return reba.wrap_model(model, tokenizer, name=f"tiny-{request.param}")


def reference(lm, texts, template=ECHO_T, layer=-1):
    return np.stack(
        [R.echo_with_ends(lm.model, lm.tokenizer, template, t, layer).numpy() for t in texts]
    )


@pytest.mark.parametrize("batch_size", [1, 4])
def test_echo_prompt_with_ends_matches_reference(tiny, batch_size):
    got = reba.Embedder(tiny, method="echo-prompt+ends").encode(TEXTS, batch_size=batch_size)
    assert_close(got, reference(tiny, TEXTS))


def test_packed_equals_padded_and_reference(tiny):
    emb = reba.Embedder(tiny, method="echo-prompt+ends")
    packed = emb.embed(TEXTS, batch_size=4, packing=True).embeddings
    padded = emb.embed(TEXTS, batch_size=4, packing=False).embeddings
    assert_close(packed, padded)
    assert_close(packed, reference(tiny, TEXTS))


def test_the_ends_change_the_vector(tiny):
    """The EOS is pooled and the BOS replaces the tokenizer's prefix: not the plain prompt."""
    plain = reba.Embedder(tiny, method="echo-prompt").encode(TEXTS)
    ends = reba.Embedder(tiny, method="echo-prompt+ends").encode(TEXTS)
    assert np.abs(plain - ends).max() > 1e-2


def test_ids_and_pooled_positions(tiny):
    """One BOS (never two, also where the tokenizer adds its own), the prompt, one EOS; the
    mean's weights on the second occurrence and the EOS."""
    tok = tiny.tokenizer
    [explained] = reba.Embedder(tiny, method="echo-prompt+ends").explain_many([TEXTS[1]])
    one = explained.inputs[0]
    x = tok(TEXTS[1], add_special_tokens=False)["input_ids"]
    pieces = [tok(p, add_special_tokens=False)["input_ids"] for p in ECHO_T.split("{text}") if p]
    want = [tok.bos_token_id, *pieces[0], *x, *pieces[1], *x, tok.eos_token_id]
    assert list(one.ids) == want
    pooled = [i for i, w in enumerate(one.weights) if w > 0]
    assert pooled == list(range(len(want) - 1 - len(x), len(want)))
    assert one.segments[-1] == "special"


def test_bos_is_the_eos_when_the_tokenizer_has_none(tiny):
    tokenizer = copy.deepcopy(tiny.tokenizer)
    tokenizer.bos_token = None
    assert tokenizer.bos_token_id is None
    lm = reba.wrap_model(tiny.model, tokenizer, name=f"{tiny.name}-no-bos")
    [explained] = reba.Embedder(lm, method="echo-prompt+ends").explain_many([TEXTS[0]])
    ids = explained.inputs[0].ids
    assert ids[0] == ids[-1] == tokenizer.eos_token_id


def test_refused_without_an_eos(tiny):
    tokenizer = copy.deepcopy(tiny.tokenizer)
    tokenizer.eos_token = None
    lm = reba.wrap_model(tiny.model, tokenizer, name=f"{tiny.name}-no-eos")
    with pytest.raises(ValueError, match="needs an EOS token.*has none"):
        reba.Embedder(lm, method="echo-prompt+ends").encode(TEXTS[:1])


@pytest.mark.parametrize(
    ("name", "readout"),
    [("echo-prompt+ends+reba", "reba"), ("echo-prompt+ends+last", "last")],
)
def test_ends_with_other_readouts(tiny, name, readout):
    """ReBA's read-out over the input with ends (the EOS is one more column); the last token
    is then the EOS."""
    got = reba.Embedder(tiny, method=name).encode(TEXTS[:2], batch_size=2)
    want = []
    for text in TEXTS[:2]:
        ids, first, _ = R.echo_ends_input(tiny.tokenizer, ECHO_T, text)
        H, S = R.run(tiny.model, ids, -1, attention=readout == "reba")
        want.append(R.readout(H, S, [first], readout).numpy())
    assert_close(got, np.stack(want))


def test_grammar_and_saved_recipe_round_trip():
    preset = parse_method("embedfilter-echo")
    assert preset.recipe.inputs[0].ends and not preset.recipe.inputs[0].whole
    assert parse_method("embedfilter-echo+no-ends").name == "embedfilter-echo+no-ends"
    assert not parse_method("embedfilter-echo+no-ends").recipe.inputs[0].ends
    assert parse_method("echo-prompt+ends").name == "echo-prompt+ends"
    data = recipe_to_dict(parse_method("echo-prompt+ends").recipe)
    assert data["inputs"][0]["ends"] is True
    assert recipe_from_dict(data) == parse_method("echo-prompt+ends").recipe
    assert "ends" not in recipe_to_dict(parse_method("echo-prompt").recipe)["inputs"][0]
    with pytest.raises(ValueError, match="ends .BOS ... EOS. applies to prompts only"):
        parse_method("echo+ends")
    with pytest.raises(ValueError, match="ends given twice"):
        parse_method("echo-prompt+ends+no-ends")
