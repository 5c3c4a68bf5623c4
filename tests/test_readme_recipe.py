"""The README's "Your own method" example, run as a user would copy it, and the method it
registers checked against the naive reference (tests/reference.py)."""

import numpy as np
import pytest
import reference as R
from checks import assert_close
from readme import README, code_block

import reba
from reba.methods import parse

TEXTS = ["The bank raised interest rates again this year.", "我们去银行取钱。"]


@pytest.fixture
def summary(tiny):
    """Runs the example with ``lm`` the tiny model; unregisters its method afterwards."""
    example = code_block("**Your own method**", "python")
    exec(compile(example, str(README), "exec"), {"lm": tiny})
    yield tiny, parse.base_methods()["summary"].inputs[0].template
    parse._registered.pop("summary")


def test_readme_example_registers_a_working_method(summary):
    tiny, template = summary
    assert template == 'This passage : "{text}" can be summarized in one word:"'
    want = [R.prompted(tiny.model, tiny.tokenizer, template, t, "last", -2) for t in TEXTS]
    assert_close(reba.Embedder(tiny, method="summary").encode(TEXTS), np.stack(want))


def test_readme_method_combines_like_a_preset(summary):
    tiny, template = summary
    want = [R.prompted(tiny.model, tiny.tokenizer, template, t, "reba", -2) for t in TEXTS]
    assert_close(reba.Embedder(tiny, method="summary+reba").encode(TEXTS), np.stack(want))
    end = max(2, R.scaled(tiny.model, 7))
    want = []
    for text in TEXTS:
        H, S, slots = R.token_prepending(tiny.model, tiny.tokenizer, template, text, -2, 1, end)
        want.append(R.readout(H, S, slots, "last"))
    assert_close(reba.Embedder(tiny, method="summary+tp").encode(TEXTS), np.stack(want))
