"""The sentence splitter HTP marks sentences with (reba.inputs.sentences): English, Chinese,
mixed text, quotes, numbers, abbreviations, and never an empty sentence."""

import pytest

from reba.inputs.sentences import split_sentences


def sentences(text):
    return [text[a:b] for a, b in split_sentences(text)]


@pytest.mark.parametrize(
    "text, want",
    [
        ("One. Two! Three? Four", ["One.", "Two!", "Three?", "Four"]),
        (
            "It costs 3.5 dollars. Visit www.a.org now.",
            ["It costs 3.5 dollars.", "Visit www.a.org now."],
        ),
        ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("See No. 5 first. And no. Fine.", ["See No. 5 first.", "And no.", "Fine."]),
        ("Fruit, e.g. apples, is good. Eat it.", ["Fruit, e.g. apples, is good.", "Eat it."]),
        ("Really?! Yes... and no. Fine.", ["Really?!", "Yes... and no.", "Fine."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("(See above.) Next one.", ["(See above.)", "Next one."]),
        ("Title\n\nThe body starts here. It ends", ["Title", "The body starts here.", "It ends"]),
        ("a line\nwith a break. Done.", ["a line\nwith a break.", "Done."]),
    ],
)
def test_english(text, want):
    assert sentences(text) == want


@pytest.mark.parametrize(
    "text, want",
    [
        (
            "我们去银行取钱。然后去河边散步！你呢？",
            ["我们去银行取钱。", "然后去河边散步！", "你呢？"],
        ),
        ("好；再见……走吧", ["好；", "再见……", "走吧"]),
        ("他说：“走吧。”我们就走了。", ["他说：“走吧。”", "我们就走了。"]),
        ("「好的！」她笑了。", ["「好的！」", "她笑了。"]),
        ("价格是３．５元。很便宜！", ["价格是３．５元。", "很便宜！"]),
        ("全角问号？全角感叹号！", ["全角问号？", "全角感叹号！"]),
    ],
)
def test_chinese(text, want):
    assert sentences(text) == want


def test_mixed_text():
    text = "We met at 银行。Then we left. 然后回家！OK?"
    assert sentences(text) == ["We met at 银行。", "Then we left.", "然后回家！", "OK?"]
    assert sentences("Hello.我们走吧。") == ["Hello.", "我们走吧。"]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "...", "。。。", '"..." Hi.', " ！ Hi."])
def test_no_empty_sentences(text):
    spans = split_sentences(text)
    assert all(text[a:b].strip() == text[a:b] and text[a:b] for a, b in spans)
    assert all(any(c.isalnum() for c in text[a:b]) for a, b in spans) or len(spans) <= 1
    assert "".join(text[a:b] for a, b in spans).replace(" ", "") == text.replace(" ", "").strip()


def test_spans_cover_the_text_in_order():
    text = "  First one.  Second one!   第三句。 "
    spans = split_sentences(text)
    assert spans == sorted(spans) and all(b <= c for (_, b), (c, _) in zip(spans, spans[1:]))
    assert [text[a:b] for a, b in spans] == ["First one.", "Second one!", "第三句。"]
