"""``reba export st``: a sentence-transformers folder whose vectors are Embedder.encode's.

Loaded with the real sentence-transformers package (``trust_remote_code=True``), in this
process and in fresh ones; every method family on a tiny random Llama saved as a local folder,
and ReBA on the real SmolLM2 weights (a bundled alias).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import reba
from reba.integrations.sentence_transformers import CONFIG_FILE, MODULE_FILE, export_st

SRC = Path(__file__).resolve().parents[2] / "src"
TEXTS = [
    "The bank raised interest rates again this year.",
    "我们去银行取钱，然后去河边散步。",
    "A bat flew out of the cave at dusk.",
    "He swung the bat.",
    "Repetition lets early tokens see the whole sentence, and so the embedding improves.",
]
METHODS = [("mean", None), ("last", None), ("echo", 2), ("echo-last", 3), ("prompteol", None)]
METHODS += [("reba", 2), ("reba", 1), ("reba-last", 2)]
METHODS += [("pcot+reba", None), ("prompteol+tp", None), ("ke+cp[alpha=2]", None), ("ck", None)]


def close(got, expected, rtol: float = 1e-5) -> None:
    """Equal to float32 rounding: max difference within rtol of the largest value."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= rtol * np.abs(expected).max()


@pytest.fixture(autouse=True)
def modules_cache(tmp_path, monkeypatch):
    """transformers copies trust_remote_code modules here; keep them out of the home folder."""
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))


def fresh_env(tmp_path) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "HF_HUB_OFFLINE": "1",
        "HF_MODULES_CACHE": str(tmp_path / "fresh-modules"),
    }


@pytest.mark.parametrize(("method", "k"), METHODS)
def test_every_method_family_encodes_like_embedder(tiny_dir, tmp_path, method, k):
    out = export_st(tmp_path / "st", str(tiny_dir), method=method, k=k)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "config_sentence_transformers.json",
        "modules.json",
        CONFIG_FILE,
        MODULE_FILE,
    ]
    assert not list(out.glob("*.safetensors")) and not list(out.glob("*.bin"))  # no weights
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    expected = reba.Embedder(str(tiny_dir), method=method, k=k).encode(TEXTS)
    for batch_size in (1, 2, 32):
        close(model.encode(TEXTS, batch_size=batch_size), expected)
    assert model.get_embedding_dimension() == 32


def test_real_smollm2_weights_by_alias(tmp_path, smollm2):
    embedder = reba.Embedder(smollm2, method="reba", k=2)  # smollm2 was loaded by its alias
    out = export_st(tmp_path / "st", embedder)
    config = json.loads((out / CONFIG_FILE).read_text())
    assert config["model"] == "smollm2-135m" and config["dtype"] == "float32"
    assert reba.EmbedderConfig.load(out / CONFIG_FILE) == embedder.config
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    texts = TEXTS[2:]
    close(model.encode(texts, batch_size=2), embedder.encode(texts), rtol=1e-5)  # GEMM shapes


def test_encode_options(tiny_dir, tmp_path):
    model = SentenceTransformer(
        str(export_st(tmp_path / "st", str(tiny_dir))), trust_remote_code=True, device="cpu"
    )
    raw = reba.Embedder(str(tiny_dir)).encode(TEXTS)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    close(model.encode(TEXTS, normalize_embeddings=True), unit)
    tensor = model.encode(TEXTS, convert_to_tensor=True)
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    close(tensor.numpy(), raw)
    close(model.encode(TEXTS, truncate_dim=8), raw[:, :8])
    close(model.encode(TEXTS[0]), raw[0])  # one string, one vector
    with pytest.raises(ValueError, match="item 1"):
        model.encode(["fine", "   "])


def test_prompts_similarity_and_saving(tiny_dir, tmp_path):
    prompts = {"query": "query: ", "document": "passage: "}
    out = export_st(
        tmp_path / "st",
        str(tiny_dir),
        method="echo",
        k=2,
        prompts=prompts,
        similarity_fn_name="dot",
    )
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    embedder = reba.Embedder(str(tiny_dir), method="echo", k=2)
    queries = model.encode_query(TEXTS[:2])
    documents = model.encode_document(TEXTS[2:])
    close(queries, embedder.encode(["query: " + t for t in TEXTS[:2]]))
    close(documents, embedder.encode(["passage: " + t for t in TEXTS[2:]]))
    assert model.similarity_fn_name == "dot"
    close(model.similarity(queries, documents).numpy(), queries @ documents.T, rtol=1e-5)

    model.save(str(tmp_path / "saved"))
    saved = json.loads((tmp_path / "saved" / "modules.json").read_text())
    assert saved[0]["type"] == "reba_st.RebaModule"
    again = SentenceTransformer(str(tmp_path / "saved"), trust_remote_code=True, device="cpu")
    assert again.prompts["query"] == "query: " and again.similarity_fn_name == "dot"
    close(again.encode_query(TEXTS[:2]), queries)
    cosine = SentenceTransformer(
        str(export_st(tmp_path / "cos", str(tiny_dir))), trust_remote_code=True
    )
    assert cosine.similarity_fn_name == "cosine"


def test_untrusted_code_is_refused(tiny_dir, tmp_path):
    out = export_st(tmp_path / "st", str(tiny_dir))
    with pytest.raises(ValueError, match="trust_remote_code"):
        SentenceTransformer(str(out))


def test_export_checks_its_arguments(tiny_dir, tmp_path, tiny):
    with pytest.raises(ValueError, match="similarity_fn_name"):
        export_st(tmp_path / "a", str(tiny_dir), similarity_fn_name="jaccard")
    with pytest.raises(ValueError, match="default_prompt_name"):
        export_st(tmp_path / "b", str(tiny_dir), prompts={"q": "q: "}, default_prompt_name="x")
    with pytest.raises(ValueError, match="unknown method"):
        export_st(tmp_path / "c", str(tiny_dir), method="nope")
    in_memory = reba.Embedder(tiny)  # a wrapped model no other process can load by its name
    with pytest.raises(ValueError, match="could not load it"):
        export_st(tmp_path / "d", in_memory)
    from_path = reba.Embedder(str(tiny_dir), method="mean")
    config = json.loads((export_st(tmp_path / "e", from_path) / CONFIG_FILE).read_text())
    assert config["model"] == str(tiny_dir.resolve()) and config["method"] == "mean"


def test_cli_export_then_a_fresh_process_loads_it(tiny_dir, tmp_path):
    out = tmp_path / "exported"
    command = [sys.executable, "-m", "reba.cli.main", "export", "st", str(out)]
    command += ["--model", str(tiny_dir), "--method", "reba", "-k", "3", "--prompt", "query=q: "]
    done = subprocess.run(command, env=fresh_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "trust_remote_code=True" in done.stderr
    script = (
        "import json, sys; from sentence_transformers import SentenceTransformer\n"
        f"m = SentenceTransformer({str(out)!r}, trust_remote_code=True, device='cpu')\n"
        f"texts = json.loads({json.dumps(json.dumps(TEXTS))})\n"
        "print(json.dumps({'plain': m.encode(texts).tolist(),"
        " 'query': m.encode_query(texts).tolist()}))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], env=fresh_env(tmp_path), capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr
    vectors = json.loads(loaded.stdout.strip().splitlines()[-1])
    embedder = reba.Embedder(str(tiny_dir), method="reba", k=3)
    close(vectors["plain"], embedder.encode(TEXTS))
    close(vectors["query"], embedder.encode(["q: " + t for t in TEXTS]))


def test_langchain_huggingface_embeddings_loads_the_folder(tiny_dir, tmp_path):
    from langchain_huggingface import HuggingFaceEmbeddings

    out = export_st(tmp_path / "st", str(tiny_dir), method="reba", k=2)
    embeddings = HuggingFaceEmbeddings(
        model_name=str(out), model_kwargs={"trust_remote_code": True, "device": "cpu"}
    )
    expected = reba.Embedder(str(tiny_dir), method="reba", k=2).encode(TEXTS)
    close(embeddings.embed_documents(TEXTS), expected)
    close(embeddings.embed_query(TEXTS[1]), expected[1])


def test_a_folder_written_by_reba_0_1_still_loads(tiny_dir, tmp_path):
    out = export_st(tmp_path / "old", str(tiny_dir))
    legacy = {  # reba 0.1's reba_config.json: the Embedder keywords, no schema
        "model": str(tiny_dir),
        "method": "echo",
        "k": 3,
        "layer": None,
        "include_prefix": False,
        "max_length": None,
        "embedder_kwargs": {"dtype": "float32"},
        "dimension": 32,
        "reba_version": "0.1.0",
    }
    (out / CONFIG_FILE).write_text(json.dumps(legacy))
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    assert model[0].embedder.config == reba.EmbedderConfig(
        str(tiny_dir), "echo", 3, dtype="float32"
    )
    close(model.encode(TEXTS), reba.Embedder(str(tiny_dir), method="echo", k=3).encode(TEXTS))
