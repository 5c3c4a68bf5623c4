"""Loading: bundled aliases, GGUF files, local folders, encoders; the conversion cache."""

import numpy as np
import pytest
import reference as R
import torch
from checks import assert_close

import reba
from reba.models.registry import BUNDLED_MODELS


def test_smollm2_alias_loads_converted_weights(smollm2):
    assert smollm2.causal and smollm2.prefix_ids == ()  # GPT-2-style tokenizer: no BOS
    assert smollm2.dimension == 576 and smollm2.num_layers == 30


def test_gguf_path_is_converted_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REBA_CACHE", str(tmp_path))
    gguf = BUNDLED_MODELS["tiny-random-llama"].weights_path(tmp_path)
    first = reba.load_model(str(gguf))
    converted = list((tmp_path / "converted").iterdir())
    assert len(converted) == 1 and (converted[0] / "reba-converted.json").exists()
    assert first.prefix_ids == (1,)  # Llama tokenizer: BOS prefix
    stamp = (converted[0] / "model.safetensors").stat().st_mtime_ns
    second = reba.load_model(str(gguf))  # from the cache folder, not converted again
    assert (converted[0] / "model.safetensors").stat().st_mtime_ns == stamp
    texts = ["hello world", "a longer text about banks"]
    a = reba.Embedder(first, method="reba", k=2).encode(texts)
    b = reba.Embedder(second, method="reba", k=2).encode(texts)
    np.testing.assert_array_equal(a, b)


def test_local_folder_loads(tmp_path):
    from tiny_models import make_model

    model, tok = make_model("gpt2")
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    lm = reba.load_model(str(tmp_path), device="cpu", dtype="float32")
    got = reba.Embedder(lm, method="echo", k=2).encode(["a bat flew out"])
    want = R.sentence(model, tok, "a bat flew out", "echo", 2).numpy()
    np.testing.assert_allclose(got[0], want, atol=1e-5)


def test_minilm_encoder_is_bidirectional_and_mean_only():
    lm = reba.load_model("minilm")
    assert not lm.causal and lm.prefix_ids and lm.suffix_ids  # [CLS] ... [SEP]
    emb = reba.Embedder(lm, method="mean")
    text = "The bank approved my loan."
    got = emb.encode([text])[0]
    ids = lm.tokenizer(text)["input_ids"]  # [CLS] x [SEP], as the encoder was trained
    with torch.no_grad():
        hidden = lm.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
    np.testing.assert_allclose(got, hidden[1:-1].mean(0).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="bidirectional encoder: only method 'mean'"):
        reba.Embedder(lm, method="reba", k=2)


def test_default_model_gemma_matches_reference():
    """The bundled default, on Chinese text, against the spec's formulas."""
    lm = reba.load_model("gemma-3-270m")
    assert lm.prefix_ids == (2,) and lm.causal  # Gemma puts <bos> first
    texts = ["我们去银行取钱。", "他在河边的银行上班，负责贷款业务。"]
    for method, k in (("reba", 2), ("echo", 2), ("mean", 1), ("reba-last", 3)):
        got = reba.Embedder(lm, method=method, k=k).encode(texts, batch_size=1)
        want = np.stack([R.sentence(lm.model, lm.tokenizer, t, method, k).numpy() for t in texts])
        assert_close(got, want)
    words = [("我们去银行取钱。", "银行"), ("他在河边的银行上班。", "银行")]
    got = reba.Embedder(lm, method="reba", k=2).encode_words(words, batch_size=1)
    want = np.stack(
        [
            R.word(lm.model, lm.tokenizer, t, (t.find(w), t.find(w) + len(w)), "reba", 2).numpy()
            for t, w in words
        ]
    )
    assert_close(got, want)
