"""``reba explain``: plain numbers when not a terminal, shaded tokens on one, the --html page."""

from __future__ import annotations

import io
import json
import re

import numpy as np

import reba
from reba.cli.main import main
from reba.views.terminal import plain, show

TEXTS = ["我们去银行取钱", "The bank raised interest rates."]


def test_explain_prints_the_weights_and_writes_a_self_contained_page(tmp_path, capsys):
    out = tmp_path / "explain.html"
    argv = ["explain", *TEXTS, "--method", "reba,mean,pcot+reba", "--model", "tiny-random-llama"]
    assert main([*argv, "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    for method in ("reba", "mean", "pcot+reba"):
        embedder = reba.Embedder("tiny-random-llama", method=method)
        for text in TEXTS:
            explained = embedder.explain(text)
            assert f"  {explained.label}: {plain(explained.inputs[0])}" in printed
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # nothing fetched
    data = json.loads(re.search(r'<script id="data"[^>]*>(.*?)</script>', page, re.S)[1])
    assert [c["label"] for c in data["columns"]] == ["reba-2", "mean", "pcot+reba"]
    vectors = reba.Embedder("tiny-random-llama", method="pcot+reba").encode(TEXTS)
    expected = reba.Embedder.similarity(vectors, vectors)
    np.testing.assert_allclose(data["columns"][2]["similarity"], expected, atol=1e-5)
    assert "tiny-random-llama" in page and "reba 0." in page  # what produced it


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_tokens_are_shaded():
    explained = reba.Embedder("tiny-random-llama", method="reba").explain(TEXTS[1])
    screen = _Terminal()
    show([TEXTS[1]], {"reba-2": [explained]}, {}, out=screen)
    written = screen.getvalue()
    assert "\x1b[" in written and "(0." not in written  # colours, not numbers
    assert "bank" in written


def test_explain_word_and_bad_input(capsys):
    argv = [
        "explain",
        "We sat on the river bank.",
        "--word",
        "bank",
        "--model",
        "tiny-random-llama",
    ]
    assert main([*argv, "--method", "mean"]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  mean:")][0]
    assert re.findall(r" bank\((\d\.\d+)\)", line) == ["1.000"]
    assert (
        main(["explain", "no such word here", "--word", "bank", "--model", "tiny-random-llama"])
        == 2
    )
    assert "item 0" in capsys.readouterr().err
