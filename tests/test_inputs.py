"""Building model inputs: prefix, token-level repetition, word targets by character offsets."""

import pytest
from tiny_models import make_tokenizer

from reba.inputs import prepare, tokenize_texts, tokenize_words


@pytest.mark.parametrize("with_bos", [True, False])
def test_repetition_is_token_level_after_the_prefix(with_bos):
    tok = make_tokenizer(with_bos)
    prefix = (1,) if with_bos else ()
    [item], _ = tokenize_texts(tok, ["bank river"])
    [p], _ = prepare([item], prefix=prefix, copies=3, max_length=100)
    x = tuple(tok("bank river", add_special_tokens=False)["input_ids"])
    assert p.ids == prefix + x * 3
    assert list(p.copy_positions(2)) == list(range(len(prefix) + len(x), len(prefix) + 2 * len(x)))


def test_word_targets_come_from_character_offsets():
    tok = make_tokenizer(True)
    text = "我们去银行取钱"
    [item], failures = tokenize_words(tok, [(text, "银行")])
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    want = tuple(i for i, (a, b) in enumerate(enc["offset_mapping"]) if a < 5 and b > 3)
    assert not failures and item.targets == want and len(want) >= 1


def test_word_beyond_the_truncation_limit_fails_loudly():
    tok = make_tokenizer(True)
    text = "cave " * 50 + "bank"
    items, _ = tokenize_words(tok, [(text, "bank")])
    prepared, failures = prepare(items, prefix=(1,), copies=2, max_length=21)
    assert not prepared and "beyond the truncation limit" in failures[0].reason
