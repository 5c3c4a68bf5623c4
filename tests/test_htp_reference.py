"""Hierarchical Token Prepending against its naive reference (tests/reference_htp.py: markers
written into the token list by hand, layers run one by one) on the four tiny families and
SmolLM2-135M's real weights; padded, packed and batch-invariant."""

import numpy as np
import pytest
import reference as R
import reference_htp as RH
from checks import assert_close

import reba

TEXTS = [
    "The bank raised interest rates. A bat flew out of the cave! Was it late?",
    "我们去银行取钱。然后去河边散步。",
    "A bat flew out",
]
HTP_QUERY_T = "Retrieve relevant document. Text:{text}"
# method -> (template, whole, read-out, layer, begin[, init])
CASES = {
    "htp": ("{text}", False, "mean", -2, True),
    "htp-query": (HTP_QUERY_T, False, "mean", -2, True),
    "prompteol+htp": (R.PROMPTEOL_T, True, "last", -1, True),
    "pcot+htp+reba": (R.PCOT_T, True, "reba", -2, True),
    "ke+htp[begin=0]+reba-last": (R.KE_T, True, "reba-last", -2, False),
    "htp+last": ("{text}", False, "last", -2, True),
    "htp+htp[init=normal]": ("{text}", False, "mean", -2, True, "normal"),
    "prompteol+htp[init=normal]": (R.PROMPTEOL_T, True, "last", -1, True, "normal"),
    "echo-prompt+htp": None,  # refused: two text slots
}


def reference(lm, name, texts):
    template, whole, readout, layer, begin, *init = CASES[name]
    return np.stack(
        [
            RH.htp(
                lm.model, lm.tokenizer, template, t, readout, layer, whole, begin,
                init=init[0] if init else "mean",
            ).numpy()
            for t in texts
        ]
    )  # fmt: skip


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case])
def test_htp_matches_reference(tiny, name):
    got = reba.Embedder(tiny, method=name).encode(TEXTS, batch_size=3)
    assert_close(got, reference(tiny, name, TEXTS))


@pytest.mark.parametrize("packing", [False, True])
def test_htp_is_batch_invariant(tiny, packing):
    texts = TEXTS * 3
    for name in ("htp", "pcot+htp+reba"):
        emb = reba.Embedder(tiny, method=name)
        alone = np.stack([emb.encode([t], batch_size=1)[0] for t in TEXTS])
        together = emb.embed(texts, batch_size=4, packing=packing).embeddings
        assert_close(together, np.tile(alone, (3, 1)))


def test_htp_differs_from_tp_and_from_no_intervention(tiny):
    """The markers change the vector (a test that could not fail would pass without them)."""
    text = TEXTS[:1]
    htp = reba.Embedder(tiny, method="prompteol+htp").encode(text)
    tp = reba.Embedder(tiny, method="prompteol+tp[end=2]").encode(text)
    plain = reba.Embedder(tiny, method="prompteol").encode(text)
    assert np.abs(htp - tp).max() > 1e-3 and np.abs(htp - plain).max() > 1e-3


def test_htp_input_layout(tiny):
    """Three sentences: three <PST> rows in the text, three <B-PST> rows before it, the
    sources the sentences' last tokens; the text's own tokens unchanged between them."""
    from reba.engine.embed import check_method
    from reba.inputs import Item, Tokenizer, build_template
    from reba.inputs.markers import htp_template
    from reba.inputs.sentences import split_sentences

    check_method(tiny, reba.EmbeddingConfig("htp"), "sentence")
    tok = Tokenizer(tiny.tokenizer, tiny.prefix_ids, tiny.suffix_ids)
    text = TEXTS[0]
    [item], _ = build_template(
        tok,
        [Item(0, text)],
        htp_template("{text}"),
        whole=False,
        max_length=512,
        sentences=split_sentences,
    )
    own = tiny.tokenizer(text, add_special_tokens=False)["input_ids"]
    p = len(tiny.prefix_ids)
    assert item.begin_markers == (p, p + 1, p + 2)
    assert item.sentence_markers[0] == p + 3
    kept = [t for i, t in enumerate(item.ids) if i >= p and i not in item.markers]
    assert kept == own
    ends = [tiny.tokenizer.decode([item.ids[s]]).strip()[-1:] for s in item.sentence_sources]
    assert ends == [".", "!", "?"]  # each sentence's last token
    assert item.sentence_sources[-1] == item.length - 1


def test_htp_counts_its_rows_in_max_length(tiny):
    """Cut to fit, the text with its marker rows stays within max_length."""
    from reba.inputs import Item, Tokenizer, build_template
    from reba.inputs.markers import htp_template
    from reba.inputs.sentences import split_sentences

    tok = Tokenizer(tiny.tokenizer, tiny.prefix_ids, tiny.suffix_ids)
    for limit in range(8, 40, 3):
        [item], _ = build_template(
            tok,
            [Item(0, TEXTS[0])],
            htp_template("{text}"),
            whole=False,
            max_length=limit,
            sentences=split_sentences,
        )
        assert item.length <= limit
    result = reba.Embedder(tiny, method="htp", max_length=20).embed([TEXTS[0]])
    assert result.truncated == [0]


@pytest.mark.parametrize(
    "name, message",
    [
        ("echo-prompt+htp", "one text slot.*has 2"),
        ("echo+htp", "not defined on the plain repetition input"),
        ("prompteol+htp+cp", "at most one intervention"),
        ("prompteol+htp[begin=2]", "begin is 1"),
        ("prompteol+htp[splitter=spacy]", "unknown sentence splitter 'spacy'"),
        ("prompteol+htp[init=zeros]", "HTP's init is one of mean, normal"),
    ],
)
def test_htp_refused_with_a_message(name, message):
    with pytest.raises(ValueError, match=message):
        reba.methods.parse_method(name)


def test_smollm2_htp_matches_reference(smollm2):
    for name in ("htp", "prompteol+htp"):
        got = reba.Embedder(smollm2, method=name).encode(TEXTS[:2], batch_size=2)
        assert_close(got, reference(smollm2, name, TEXTS[:2]))


def test_explain_marks_the_markers_and_gives_them_no_weight(tiny):
    [one] = reba.Embedder(tiny, method="htp").explain(TEXTS[0]).inputs
    marked = [i for i, s in enumerate(one.segments) if s == "placeholder"]
    assert len(marked) == 6  # three sentences: three <PST>, three <B-PST>
    assert all(one.weights[i] == 0 for i in marked)
    assert sum(one.weights) == pytest.approx(1.0, abs=1e-6)


def test_the_markers_rows_change_the_vector_and_the_key():
    """``init=mean`` (the authors' resized vocabulary, the default) and ``init=normal`` (TP's
    rows) give other vectors and other cache keys."""
    from reba.methods import EmbeddingConfig, check_config

    def key(name):
        return check_config(EmbeddingConfig(name, 1, None), "sentence").fingerprint()

    assert key("htp")["intervention"]["init"] == "mean"
    assert key("htp+htp[init=mean]") == key("htp")  # one canonical spelling, one key
    assert key("htp+htp[init=normal]")["intervention"]["init"] == "normal"
