"""Post-processing fitted once (``reba fit``, a real process) and applied identically by
``Embedder``, ``reba embed`` (a real process), ``reba serve`` (a real server on loopback, the
openai client), an exported sentence-transformers folder and the store wrappers' encoder.

The fitted vectors are checked against an independent numpy computation (all-but-the-top:
the mean and the top principal directions of an SVD removed); every entry point must give the
same vectors to 1e-6. A changed state, a state of another model or embedding, and old
configuration files are checked apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import openai
import pyarrow.parquet as pq
import pytest
from parquet_outputs import parts, vectors
from serve.processes import serve_process
from tiny_models import CORPUS, make_model

import reba
from reba import Embedder, EmbedderConfig
from reba.postprocess import StateFileError

pytest.importorskip("sentence_transformers", reason="the round trip includes reba[st]")

SRC = Path(__file__).resolve().parents[2] / "src"
FIT_TEXTS = list(dict.fromkeys(CORPUS))  # eight distinct texts, two languages
TEXTS = ["The bank raised interest rates.", "我们去银行取钱。", "A bat flew out of the cave."]
K = 2


def reba_cli(*args: str) -> subprocess.CompletedProcess:
    """``reba ARGS`` as a real process running this checkout's code."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "reba.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def same(got, expected) -> None:
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6, np.abs(got - expected).max()


def abtt_by_svd(fitted: np.ndarray, x: np.ndarray, k: int) -> np.ndarray:
    """All-but-the-top, directly: subtract the fitted mean, remove the top-k right singular
    vectors of the centred fitted vectors."""
    fitted, x = fitted.astype(np.float64), x.astype(np.float64)
    mean = fitted.mean(axis=0)
    _, _, vt = np.linalg.svd(fitted - mean, full_matrices=False)
    top = vt[:k].T
    return (x - mean) - (x - mean) @ top @ top.T


@pytest.fixture(autouse=True)
def modules_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))


@pytest.fixture(scope="module")
def fitted(tiny_dir, tmp_path_factory) -> Path:
    """``reba fit`` once: the folder with ``postprocess/`` and ``config.json``."""
    root = tmp_path_factory.mktemp("fit")
    (root / "texts.txt").write_text("\n".join(FIT_TEXTS) + "\n")
    out = root / "pp"
    done = reba_cli(
        "fit", "--model", str(tiny_dir), "--method", "reba", "--dtype", "float32",
        "--device", "cpu", "--input", str(root / "texts.txt"), "--kind", "abtt",
        "--components", str(K), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "abtt" in done.stderr and "config.json" in done.stderr
    return out


def test_fitted_once_identical_everywhere(fitted, tmp_path):
    from sentence_transformers import SentenceTransformer

    from reba.integrations._encoder import Encoder
    from reba.integrations.sentence_transformers import CONFIG_FILE, export_st

    path = fitted / "config.json"
    written = json.loads(path.read_text())
    assert written["version"] == 3 and written["postprocess"]["path"] == "postprocess"
    config = EmbedderConfig.load(path)
    assert Path(config.postprocess.path) == fitted / "postprocess"  # relative to the file
    embedder = Embedder.from_config(config, device="cpu")
    expected = embedder.encode(TEXTS)
    assert embedder.dimension == expected.shape[1] == embedder.lm.dimension

    # independent: the base embedding's vectors of the fitted texts, abtt by numpy SVD
    base = Embedder.from_config(config.replace(postprocess=None), model=embedder.lm)
    want = abtt_by_svd(base.encode(FIT_TEXTS), base.encode(TEXTS), K)
    np.testing.assert_allclose(expected, want, atol=1e-5 * np.abs(want).max())
    assert not np.allclose(expected, base.encode(TEXTS), atol=1e-3)
    normalized = embedder.encode(TEXTS, normalize=True)  # normalised after post-processing
    same(normalized, expected / np.linalg.norm(expected, axis=1, keepdims=True))
    recorded = embedder.config.to_dict()
    described = embedder.describe()["postprocess"]
    assert described["sha256"] == config.postprocess.sha256 and described["fitted_on"] == 8
    assert described["source"]["texts"] == len(FIT_TEXTS)

    # reba embed --config, a real process, into a folder: the manifest records the state
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    folder = tmp_path / "out"
    done = reba_cli(
        "embed", "--config", str(path), "-i", str(source), "-o", f"{folder}/", "--quiet",
        "--device", "cpu",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((folder / "_reba.json").read_text())["config"]
    assert manifest["embedder_config"] == recorded
    assert manifest["postprocess"]["sha256"] == config.postprocess.sha256
    same(np.concatenate([vectors(pq.read_table(p)) for p in parts(folder)]), expected)

    # reba serve --config, a real server on loopback: /info and /v1/embeddings
    with serve_process(
        ["--config", f"pp={path}", "--device", "cpu"], tmp_path / "serve.log"
    ) as url:
        info = httpx.get(f"{url}/info", timeout=60).json()
        with openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0) as client:
            answer = client.embeddings.create(model="pp", input=TEXTS)
    assert info["reba_configs"]["pp"] == recorded
    same([d.embedding for d in answer.data], expected)

    # the stores' encoder (LangChain, Chroma, ... all embed through it) from the file
    same(Encoder(path, device="cpu").documents(TEXTS), expected)

    # an exported sentence-transformers folder holds the state: it works with the fit's
    # folder gone, and a copy of it elsewhere too
    out = export_st(tmp_path / "st", config=path, device="cpu")
    exported = json.loads((out / CONFIG_FILE).read_text())
    assert exported["postprocess"] == {**recorded["postprocess"], "path": "postprocess"}
    moved = tmp_path / "moved-st"
    shutil.copytree(out, moved)
    shutil.rmtree(fitted)
    model = SentenceTransformer(str(moved), trust_remote_code=True, device="cpu")
    assert model.get_embedding_dimension() == expected.shape[1]
    same(model.encode(TEXTS), expected)


def tiny_fit(tiny, tmp_path, kind="abtt", **params) -> Embedder:
    base = Embedder.from_config(EmbedderConfig(tiny.name, "reba"), model=tiny)
    return base.fit(FIT_TEXTS, kind, out=tmp_path / "state", **params)


@pytest.fixture(scope="module")
def llama():
    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


def test_a_changed_state_or_digest_is_refused(llama, tmp_path):
    embedder = tiny_fit(llama, tmp_path)
    ref = embedder.config.postprocess
    other = "0" * 64
    with pytest.raises(StateFileError, match=f"configuration expects {other[:12]}"):
        Embedder.from_config(
            embedder.config.replace(postprocess=_with(ref, sha256=other)), model=llama
        )
    meta = json.loads((tmp_path / "state" / "state.json").read_text())
    meta["params"]["k"] = 3  # edited after saving
    (tmp_path / "state" / "state.json").write_text(json.dumps(meta))
    with pytest.raises(StateFileError, match="digest mismatch.*fit again"):
        Embedder.from_config(embedder.config, model=llama)
    with pytest.raises(StateFileError, match="no saved post-processing state"):
        Embedder.from_config(
            embedder.config.replace(postprocess=_with(ref, path=str(tmp_path / "nowhere"))),
            model=llama,
        )


def test_a_cli_run_with_a_changed_digest_stops_with_the_message(tiny_dir, tmp_path, capsys):
    embedder = tiny_fit(reba.load_model(str(tiny_dir), device="cpu"), tmp_path)
    config = embedder.config.replace(
        postprocess=_with(embedder.config.postprocess, sha256="a" * 64)
    )
    path = config.save(tmp_path / "bad.json")
    (tmp_path / "in.txt").write_text("one text\n")
    from reba.cli.main import main

    code = main(["embed", "--config", str(path), "-i", str(tmp_path / "in.txt"),
                 "-o", str(tmp_path / "o.npy"), "--quiet"])  # fmt: skip
    assert code == 2
    assert f"configuration expects {'a' * 12}" in capsys.readouterr().err


def test_a_state_of_another_embedding_or_model_is_refused(llama, tmp_path):
    embedder = tiny_fit(llama, tmp_path)
    with pytest.raises(StateFileError, match="another embedding.*method"):
        Embedder.from_config(embedder.config.replace(method="echo"), model=llama)
    other = reba.wrap_model(*make_model("llama", seed=1), name="tiny-llama-1")
    with pytest.raises(StateFileError, match="fitted on vectors of 'tiny-llama'"):
        Embedder.from_config(embedder.config.replace(model=other.name), model=other)


def test_whitening_to_fewer_dimensions_and_words_refused(llama, tmp_path):
    embedder = tiny_fit(llama, tmp_path, "whitening", dims=4)
    assert embedder.dimension == 4
    white = embedder.encode(FIT_TEXTS)
    assert white.shape == (len(FIT_TEXTS), 4)
    # the fitted vectors, whitened, have the identity covariance (np.cov, ddof=1)
    np.testing.assert_allclose(np.cov(white.astype(np.float64).T), np.eye(4), atol=1e-4)
    with pytest.raises(ValueError, match="fitted on sentence vectors"):
        embedder.encode_words([("The bank raised rates.", "bank")])


def test_configuration_files_of_versions_1_2_and_3(llama, tmp_path):
    v2 = {"schema": "reba.embedder-config", "version": 2, "model": "m", "method": "echo", "k": 3}
    assert EmbedderConfig.from_dict(v2) == EmbedderConfig(model="m", method="echo", k=3)
    assert EmbedderConfig.from_dict({**v2, "version": 1}).postprocess is None
    config = tiny_fit(llama, tmp_path, "mean").config
    again = EmbedderConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.postprocess.kind == "mean"
    bad = {**config.to_dict(), "postprocess": {**config.postprocess.to_dict(), "kind": "zca"}}
    with pytest.raises(ValueError, match="postprocess: kind must be one of"):
        EmbedderConfig.from_dict(bad)


def _with(ref, **changes):
    from dataclasses import replace

    return replace(ref, **changes)


def test_reba_fit_refuses_bad_flags_and_bad_rows(tiny_dir, tmp_path, capsys):
    from reba.cli.main import main

    texts = tmp_path / "t.txt"
    texts.write_text("one text\n\nthird text\n")  # row 1 is empty
    base = ["fit", "--model", str(tiny_dir), "--input", str(texts), "--out", str(tmp_path)]
    assert main([*base, "--kind", "mean", "--components", "2"]) == 2
    assert "--components applies to --kind abtt, not mean" in capsys.readouterr().err
    assert main([*base, "--kind", "abtt"]) == 2
    assert "t.txt: row 1: empty text" in capsys.readouterr().err


def test_fitted_after_embedfilter_projection(tmp_path):
    """EmbedFilter's read-out, then mean removal fitted on the projected vectors."""
    from tiny_models import make_causal_lm

    lm = reba.wrap_model(*make_causal_lm("llama"), name="tiny-llama-lm")
    base = Embedder.from_config(EmbedderConfig(lm.name, "prompteol+embedfilter[keep=8]"), model=lm)
    fitted = base.fit(FIT_TEXTS, "mean", out=tmp_path / "state")
    assert fitted.dimension == base.dimension == 8
    projected = base.encode(FIT_TEXTS).astype(np.float64)
    same(fitted.encode(TEXTS), base.encode(TEXTS) - projected.mean(axis=0))


def test_reba_embed_at_word_level_with_a_state_is_refused(llama, tmp_path, capsys):
    from reba.cli.main import main

    path = tiny_fit(llama, tmp_path).config.save(tmp_path / "c.json")
    rows = tmp_path / "w.jsonl"
    rows.write_text(json.dumps({"text": "The bank raised rates.", "word": "bank"}) + "\n")
    argv = ["embed", "--config", str(path), "-i", str(rows), "-o", str(tmp_path / "o.npy")]
    assert main([*argv, "--word-field", "word"]) == 2
    assert "fitted on sentence vectors" in capsys.readouterr().err
