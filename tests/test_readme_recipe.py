"""The README's "Your own method" example, run as a user would copy it, and the method it
registers checked against the naive reference (tests/reference.py)."""

import re
from pathlib import Path

import numpy as np
import pytest
import reference as R
from checks import assert_close

import reba
from reba.methods import parse

README = Path(__file__).resolve().parents[1] / "README.md"
TEXTS = ["The bank raised interest rates again this year.", "我们去银行取钱。"]


def readme_example() -> str:
    """The Python block after the README's "**Your own method**" paragraph, verbatim."""
    text = README.read_text(encoding="utf-8")
    after = text[text.index("**Your own method**") :]
    return re.search(r"```python\n(.*?)```", after, re.S).group(1)


@pytest.fixture
def summary(tiny):
    """Runs the example with ``lm`` the tiny model; unregisters its method afterwards."""
    exec(compile(readme_example(), str(README), "exec"), {"lm": tiny})
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
