"""In-context PromptEOL: the authors' demonstration pool verbatim, the exact input string
against their template, and the fast path against the naive reference (tests/reference.py)
on the four tiny families and SmolLM2-135M's real weights."""

import hashlib
from importlib.resources import files

import numpy as np
import pytest
import reference as R
from checks import assert_close

import reba
from reba.inputs import Item, Tokenizer, build_template
from reba.inputs.demonstrations import AUTHORS_CHOICES, pool
from reba.methods import parse_method

# kongds/scaling_sentemb @ 8567aa0, run_icl.sh: the demonstration per OPT size, verbatim
RUN_ICL = {
    "opt-125m": 'This_sentence_:_"A_man_is_smoking."_means_in_one_word:"Smoking".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-350m": 'This_sentence_:_"A_man_is_playing_on_a_guitar_and_singing."_means_in_one_word:"Music".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-1.3b": 'This_sentence_:_"relating_to_switzerland_or_its_people."_means_in_one_word:"Swiss".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-2.7b": 'This_sentence_:_"A_jockey_riding_a_horse."_means_in_one_word:"Equestrian".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-6.7b": 'This_sentence_:_"The_man_is_riding_a_horse."_means_in_one_word:"Horseback-riding".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-13b": 'This_sentence_:_"meat_from_a_deer."_means_in_one_word:"Venison".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-30b": 'This_sentence_:_"The_man_is_riding_a_motorcycle_down_the_road."_means_in_one_word:"Motorcycling".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    "opt-66b": 'This_sentence_:_"of_or_relating_to_tutors_or_tutoring."_means_in_one_word:"Tutorial".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
}
TEXTS = ["The bank raised interest rates again this year.", "A bat flew out", "我们去银行取钱。"]


def authors_input(line: str, text: str) -> str:
    """evaluation.py's batcher: '_' -> ' ' in the template, then the text for '*sent 0*'."""
    return line.replace("_", " ").replace("*sent 0*", text).strip()


def authors_template(line: str) -> str:
    return line.replace("_", " ").replace("*sent 0*", "{text}")


def test_pool_is_the_authors_file():
    data = files("reba.inputs").joinpath("data", "icl_examples.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest().startswith("92c3a40dbd756c14")
    assert len(pool()) == 300
    for size, line in RUN_ICL.items():
        assert pool()[AUTHORS_CHOICES[size] - 1].raw == line


@pytest.mark.parametrize("size", list(RUN_ICL))
def test_input_string_is_the_authors(size):
    recipe = parse_method(f"prompteol+icl[demo={AUTHORS_CHOICES[size]}]").recipe
    [spec] = recipe.input_specs()
    for text in TEXTS:
        assert spec.template.replace("{text}", text) == authors_input(RUN_ICL[size], text)


def test_preset_is_the_readme_demonstration(tiny):
    """prompteol-icl: the README's demonstration; the ids are the whole string tokenized with
    the tokenizer's special tokens, as the authors do."""
    [spec] = parse_method("prompteol-icl").recipe.input_specs()
    tok = Tokenizer(tiny.tokenizer, tiny.prefix_ids, tiny.suffix_ids)
    items = [Item(i, t) for i, t in enumerate(TEXTS)]
    built, _ = build_template(tok, items, spec.template, whole=True, max_length=512)
    for item, text in zip(built, TEXTS):
        want = tiny.tokenizer(authors_input(RUN_ICL["opt-2.7b"], text))["input_ids"]
        assert list(item.ids) == want


def reference(lm, name, texts):
    """Written out per name: the authors' template string into the naive reference."""
    t59, t16 = authors_template(RUN_ICL["opt-2.7b"]), authors_template(RUN_ICL["opt-125m"])
    model, tok = lm.model, lm.tokenizer
    out = []
    for text in texts:
        if name == "prompteol-icl":
            v = R.prompted(model, tok, t59, text, "last", -1)
        elif name == "prompteol+icl[demo=16]+reba":
            v = R.prompted(model, tok, t16, text, "reba", -1)
        elif name == "prompteol-icl+tp+reba-last":
            end = max(2, R.scaled(model, 7))
            H, S, slots = R.token_prepending(model, tok, t59, text, -1, 1, end, 0, True)
            v = R.readout(H, S, slots, "reba-last")
        elif name == "prompteol-icl+cp":  # the auxiliary prompt gets no demonstration
            H, S, slots = R.contrastive_prompting(
                model, tok, t59, text, -1, R.scaled(model, 4), 2.0
            )
            v = R.readout(H, S, slots, "last")
        out.append(v.numpy())
    return np.stack(out)


NAMES = [
    "prompteol-icl",
    "prompteol+icl[demo=16]+reba",
    "prompteol-icl+tp+reba-last",
    "prompteol-icl+cp",
]


@pytest.mark.parametrize("name", NAMES)
def test_icl_matches_reference(tiny, name):
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("packing", [False, True])
def test_icl_is_batch_invariant(tiny, packing):
    emb = reba.Embedder(tiny, method="prompteol-icl+tp+reba-last")
    alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
    together = emb.embed(TEXTS * 3, batch_size=4, packing=packing).embeddings
    assert_close(together, np.tile(alone, (3, 1)))


@pytest.mark.parametrize(
    "name, message",
    [
        ("pcot+icl", "defined on PromptEOL's template only"),
        ("ck+icl", "defined on PromptEOL's template only"),
        ("echo+icl", "not the plain repetition input"),
        ("prompteol+icl[demo=0]", "a line 1..300 of the pool"),
    ],
)
def test_icl_refused_with_a_message(name, message):
    with pytest.raises(ValueError, match=message):
        parse_method(name)


def test_icl_recorded_in_the_configuration(tiny):
    described = reba.Embedder(tiny, method="prompteol+icl[demo=16]").describe()
    assert described["recipe"]["icl"] == {"demo": 16}
    from reba.methods.serialize import recipe_from_dict

    assert recipe_from_dict(described["recipe"]) == parse_method("prompteol+icl[demo=16]").recipe


@pytest.mark.parametrize("name", ["prompteol-icl", "prompteol-icl+tp+reba-last"])
def test_smollm2_icl_matches_reference(smollm2, name):
    got = reba.Embedder(smollm2, method=name).encode(TEXTS[:2], batch_size=2)
    assert_close(got, reference(smollm2, name, TEXTS[:2]))
