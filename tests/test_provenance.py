"""Provenance: ``describe()`` records everything that changes a vector, the model's digest is
cached and follows its files, and a folder is never resumed in another dtype."""

from __future__ import annotations

import shutil

import pytest
import torch
from tiny_models import make_model

import reba
from reba.cli.main import main
from reba.eval.cache import model_identity
from reba.methods import Prompt, Recipe, TokenPrepending
from reba.models.identity import model_digest


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REBA_CACHE", str(tmp_path / "cache"))


def test_describe_holds_what_changes_a_vector(tiny_dir):
    recipe = Recipe((Prompt('Say "{text}" in one word:"', whole=False),), "last", layer=-2,
                    intervention=TokenPrepending(end=3))  # fmt: skip
    described = reba.Embedder(str(tiny_dir), method=recipe, name="prov", device="cpu").describe()
    assert described["model_digest"].startswith("sha256:") and described["device_type"] == "cpu"
    assert described["dtype"] == "float32" and described["reba_version"] == reba.__version__
    assert described["vectors_revision"] == reba._version.VECTORS_REVISION
    assert described["recipe"]["inputs"] == [{"template": 'Say "{text}" in one word:"',
                                              "whole": False}]  # fmt: skip
    assert described["recipe"]["intervention"]["end"] == 3  # made concrete for the model
    assert described["layer"] == -2 and described["embedder_config"]["recipe"]["layer"] == -2
    half = reba.Embedder(str(tiny_dir), method="prov", dtype="bfloat16", device="cpu").describe()
    assert {k for k in described if described[k] != half[k]} == {"dtype", "embedder_config"}


def test_the_digest_follows_the_files_and_is_cached(tiny_dir, tmp_path):
    first = model_digest(reba.load_model(str(tiny_dir), device="cpu"))
    assert list((tmp_path / "cache" / "digests").glob("*.json"))  # one entry per file
    copy = shutil.copytree(tiny_dir, tmp_path / "copy")
    assert model_digest(reba.load_model(str(copy), device="cpu")) == first  # contents, not paths
    weights = next(copy.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))  # a new size/mtime: hashed again, not read from the cache
    assert model_digest(reba.load_model(str(copy), device="cpu")) != first


def test_an_in_memory_model_is_identified_by_its_weights():
    model, tokenizer = make_model("llama")  # its own copy: a weight is changed below
    before = model_digest(reba.wrap_model(model, tokenizer))
    assert model_digest(reba.wrap_model(*make_model("llama"))) == before
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1.0
    assert model_digest(reba.wrap_model(model, tokenizer)) != before


def test_eval_cache_keys_carry_the_vectors_revision_not_the_version(tiny, monkeypatch):
    """A release that adds methods keeps cached vectors; a new vectors revision drops them."""
    key = model_identity(reba.wrap_model(tiny.model, tiny.tokenizer, name="m"))
    monkeypatch.setattr("reba._version.__version__", "9.9.9")
    assert model_identity(reba.wrap_model(tiny.model, tiny.tokenizer, name="m")) == key
    monkeypatch.setattr("reba._version.VECTORS_REVISION", "9.9.9")
    assert model_identity(reba.wrap_model(tiny.model, tiny.tokenizer, name="m")) != key


def test_resuming_a_folder_in_another_dtype_is_refused(tiny_dir, tmp_path, capsys):
    source = tmp_path / "in.txt"
    source.write_text("one text\nanother text\n")
    argv = ["embed", "-m", str(tiny_dir), "-i", str(source), "-o", f"{tmp_path / 'out'}/"]
    assert main([*argv, "--device", "cpu", "--dtype", "float32", "--quiet"]) == 0
    assert main([*argv, "--device", "cpu", "--dtype", "bfloat16", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "dtype" in err
