"""Building model inputs: prefix, token-level repetition, templates whole or in pieces, word
targets and text slots by character offsets, truncation before placement."""

import pytest
from tiny_models import make_tokenizer

from reba.inputs import Tokenizer, build_repetition, build_template, check_texts, check_words
from reba.inputs.build import PLACEHOLDER_ID
from reba.inputs.templates import PROMPTEOL, senteval_preprocess, with_placeholder


def _tok(with_bos: bool) -> Tokenizer:
    return Tokenizer(make_tokenizer(with_bos), (1,) if with_bos else (), ())


@pytest.mark.parametrize("with_bos", [True, False])
def test_repetition_is_token_level_after_the_prefix(with_bos):
    tok = _tok(with_bos)
    items, _ = check_texts(["bank river"])
    [p], _ = build_repetition(tok, items, copies=3, max_length=100)
    x = tuple(tok.tokenizer("bank river", add_special_tokens=False)["input_ids"])
    assert p.ids == tok.prefix + x * 3
    p0 = len(tok.prefix)
    assert list(p.slot_positions(1)) == list(range(p0 + len(x), p0 + 2 * len(x)))


def test_word_targets_come_from_character_offsets():
    tok = _tok(True)
    text = "我们去银行取钱"
    items, failures = check_words([(text, "银行")])
    [p], _ = build_repetition(tok, items, copies=2, max_length=100)
    enc = tok.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    want = tuple(i for i, (a, b) in enumerate(enc["offset_mapping"]) if a < 5 and b > 3)
    n = len(enc["input_ids"])
    assert not failures and len(want) >= 1
    assert p.targets == (tuple(1 + i for i in want), tuple(1 + n + i for i in want))


def test_word_beyond_the_truncation_limit_fails_loudly():
    tok = _tok(True)
    text = "cave " * 50 + "bank"
    items, _ = check_words([(text, "bank")])
    prepared, failures = build_repetition(tok, items, copies=2, max_length=21)
    assert not prepared and "beyond the truncation limit" in failures[0].reason


def test_whole_prompt_is_the_tokenizers_own_tokenization():
    """The PromptEOL family tokenizes the whole prompt string with special tokens."""
    tok = _tok(True)
    text = "The bank raised rates."
    items, _ = check_texts([text])
    [p], _ = build_template(tok, items, PROMPTEOL, whole=True, max_length=200)
    prompt = PROMPTEOL.replace("{text}", text)
    enc = tok.tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)
    assert p.ids == tuple(enc["input_ids"])
    start = prompt.index(text)
    inside = [
        i
        for i, (a, b) in enumerate(enc["offset_mapping"])
        if b > a and a < start + len(text) and b > start
    ]
    assert p.slots == ((inside[0], inside[-1] + 1),)
    assert p.text_tokens == len(tok.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_pieces_prompt_keeps_the_text_tokens_apart():
    tok = _tok(False)
    text = "bank river"
    items, _ = check_texts([text])
    [p], _ = build_template(tok, items, "Say {text} twice: {text}", whole=False, max_length=200)
    ids = tok.tokenizer
    x = tuple(ids(text, add_special_tokens=False)["input_ids"])
    a = tuple(ids("Say ", add_special_tokens=False)["input_ids"])
    b = tuple(ids(" twice: ", add_special_tokens=False)["input_ids"])
    assert p.ids == a + x + b + x
    assert [p.ids[s:e] for s, e in p.slots] == [x, x]


def test_placeholder_sits_before_the_opening_quote():
    tok = _tok(True)
    items, _ = check_texts(["bank river"])
    template = with_placeholder(PROMPTEOL)
    [p], _ = build_template(tok, items, template, whole=True, max_length=200)
    left = tok.tokenizer("This sentence : ", add_special_tokens=False)["input_ids"]
    assert p.placeholder == 1 + len(left) and p.ids[p.placeholder] == PLACEHOLDER_ID
    assert p.ids[: p.placeholder] == (1, *left)
    with pytest.raises(ValueError, match="no quote"):
        with_placeholder("Rewrite: {text}")


def test_prompt_truncation_cuts_the_text_before_placing_it():
    tok = _tok(True)
    text = " ".join(["bank river cave"] * 30)
    items, _ = check_texts([text])
    [p], _ = build_template(tok, items, PROMPTEOL, whole=True, max_length=40)
    assert p.length <= 40 and p.truncated_from is not None
    assert text.startswith(p.text) and len(p.text) < len(text)
    prompt = PROMPTEOL.replace("{text}", p.text)
    assert p.ids == tuple(tok.tokenizer(prompt, add_special_tokens=True)["input_ids"])


def test_prompt_text_also_fits_a_companion_template():
    tok = _tok(True)
    text = " ".join(["bank river cave"] * 30)
    items, _ = check_texts([text])
    longer = "The irrelevant part of " + PROMPTEOL
    [p], _ = build_template(tok, items, PROMPTEOL, whole=True, max_length=80, also_fits=[longer])
    [q], _ = build_template(tok, check_texts([p.text])[0], longer, whole=True, max_length=80)
    assert q.length <= 80 and q.truncated_from is None and p.truncated_from is not None


def test_senteval_preprocessing():
    assert senteval_preprocess('He said "hi"') == "He said 'hi'"  # ends in a quote: no period
    assert senteval_preprocess("Is it?") == "Is it."
    assert senteval_preprocess("Done.") == "Done."
    text = 'A "b" c'
    assert len(senteval_preprocess(text)) == len(text) + 1  # spans of the text stay valid
