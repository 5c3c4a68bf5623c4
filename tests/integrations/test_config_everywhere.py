"""One configuration through every entry point: ``reba embed --config`` to a folder, served
``/info``, an exported sentence-transformers folder, LangChain and mteb.

Each hop takes the configuration the previous one recorded; the configuration dicts must be
equal all along, and each hop's vector of the same text equal to ``Embedder``'s own (a custom
recipe with Token Prepending, a layer and a length limit, so every field travels).
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import openai
import pyarrow.parquet as pq
import pytest
from parquet_outputs import parts, vectors

import reba
from reba import Embedder, EmbedderConfig
from reba.cli.main import main
from reba.methods import Prompt, Recipe, TokenPrepending
from reba.serve import create_app, serve_in_thread

pytest.importorskip("sentence_transformers", reason="the round trip includes reba[st]")
pytest.importorskip("langchain_core", reason="the round trip includes reba[langchain]")
pytest.importorskip("mteb", reason="the round trip includes reba[eval]")

TEXTS = ["The bank raised interest rates.", "我们去银行取钱。", "A bat flew out of the cave."]
RECIPE = Recipe(
    (Prompt('This text : "{text}" means in one word:"'),),
    "last",
    layer=-2,
    intervention=TokenPrepending(end=3),
)


def close(got, expected) -> None:
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.fixture(autouse=True)
def modules_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))


def test_a_configuration_travels_unchanged_through_every_entry_point(tiny_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from reba.integrations.langchain import RebaEmbeddings
    from reba.integrations.mteb import RebaMtebModel
    from reba.integrations.sentence_transformers import CONFIG_FILE, export_st

    reba.register_method("roundtrip", RECIPE)
    start = EmbedderConfig(str(tiny_dir), "roundtrip", layer=-3, max_length=96, dtype="float32")
    path = start.save(tmp_path / "start.json")
    reference = Embedder.from_config(start, device="cpu")
    expected = reference.encode(TEXTS)
    recorded = reference.config.to_dict()
    assert recorded["recipe"]["intervention"]["end"] == 3 and recorded["k"] == 1

    # 1. reba embed --config FILE into a folder: the manifest and each part record it
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    folder = tmp_path / "out"
    argv = ["embed", "--config", str(path), "-i", str(source), "-o", f"{folder}/", "--quiet"]
    assert main([*argv, "--device", "cpu"]) == 0
    manifest = json.loads((folder / "_reba.json").read_text())
    from_folder = manifest["config"]["embedder_config"]
    assert from_folder == recorded
    assert all(
        json.loads(pq.read_schema(p).metadata[b"reba"])["embedder_config"] == recorded
        for p in parts(folder)
    )
    close(np.concatenate([vectors(pq.read_table(p)) for p in parts(folder)]), expected)

    # 2. served: /info records it, /v1/embeddings answers with the same vectors
    served = Embedder.from_config(from_folder, device="cpu")
    with serve_in_thread(create_app({"rt": served})) as running:
        info = httpx.get(f"{running.url}/info").json()
        with openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0) as client:
            answer = client.embeddings.create(model="rt", input=TEXTS)
    from_info = info["reba_configs"]["rt"]
    assert from_info == recorded and info["model_sha"].startswith("sha256:")
    close([d.embedding for d in answer.data], expected)

    # 3. exported sentence-transformers folder: its reba_config.json is the same file
    out = export_st(tmp_path / "st", config=from_info, device="cpu")
    from_st = json.loads((out / CONFIG_FILE).read_text())
    assert from_st == recorded
    model = SentenceTransformer(str(out), trust_remote_code=True, device="cpu")
    assert model[0].embedder.config.to_dict() == recorded
    close(model.encode(TEXTS), expected)

    # 4. LangChain from the exported file; 5. mteb from LangChain's embedder's configuration
    embeddings = RebaEmbeddings(config=out / CONFIG_FILE, device="cpu")
    assert embeddings.embedder.config.to_dict() == recorded
    close(embeddings.embed_documents(TEXTS), expected)
    wrapper = RebaMtebModel(config=embeddings.embedder.config, device="cpu")
    assert wrapper.mteb_model_meta.loader_kwargs["config"] == recorded
    close(wrapper.encode_texts(TEXTS), expected)
