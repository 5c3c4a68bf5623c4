"""``EmbedderConfig``: one validated, versioned configuration; saved, loaded, and built from.

Vectors built from a saved configuration are compared with ``Embedder``'s own from the same
keywords; a custom recipe is rebuilt from the file alone in a fresh process.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reba
from reba import Embedder, EmbedderConfig
from reba.config import SCHEMA_VERSION, as_config
from reba.methods import Prompt, Recipe, TokenPrepending

SRC = Path(__file__).resolve().parents[1] / "src"
TEXTS = ["The bank raised interest rates.", "我们去银行取钱。", "A bat flew out of the cave."]
CUSTOM = Recipe(
    (Prompt('In one word, "{text}" is about:"'),),
    "last",
    layer=-2,
    intervention=TokenPrepending(end=3),
    description="a custom prompt with TP",
)


def test_round_trip_through_a_file(tmp_path):
    config = EmbedderConfig(model="m", method="pcot+reba", k=1, layer=-3, max_length=64)
    path = config.save(tmp_path / "c.json")
    data = json.loads(path.read_text())
    assert data["schema"] == "reba.embedder-config" and data["version"] == SCHEMA_VERSION
    assert EmbedderConfig.load(path) == config == as_config(data) == as_config(str(path))
    assert EmbedderConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()


def test_version_1_files_load_and_newer_or_unknown_are_refused(tmp_path):
    v1 = {"schema": "reba.embedder-config", "version": 1, "model": "m", "method": "echo", "k": 3}
    assert EmbedderConfig.from_dict(v1) == EmbedderConfig(model="m", method="echo", k=3)
    with pytest.raises(ValueError, match="version 99 is not supported.*upgrade reba"):
        EmbedderConfig.from_dict({**v1, "version": 99})
    with pytest.raises(ValueError, match="unknown field.*colour"):
        EmbedderConfig.from_dict({**v1, "colour": "red"})
    with pytest.raises(ValueError, match="not a reba configuration"):
        EmbedderConfig.from_dict({**v1, "schema": "other"})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON configuration"):
        EmbedderConfig.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": 0}, "k .* must be an integer >= 1"),
        ({"method": "nope"}, "unknown method 'nope'"),
        ({"dtype": "float64"}, "dtype must be one of"),
        ({"preprocess": "x"}, "preprocess must be one of"),
        ({"include_prefix": "yes"}, "include_prefix must be true or false"),
        ({"method": "reba", "recipe": CUSTOM}, "starts with the preset 'reba'"),
    ],
)
def test_invalid_values_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        EmbedderConfig(**changes)


def test_from_config_equals_the_keywords(tiny_dir, tmp_path):
    direct = Embedder(str(tiny_dir), method="echo", k=3, layer=-2, device="cpu")
    assert direct.config.k == 3 and direct.config.dtype == "float32"
    path = direct.config.save(tmp_path / "echo.json")
    loaded = Embedder.from_config(path, device="cpu")
    assert loaded.config == direct.config
    np.testing.assert_array_equal(loaded.encode(TEXTS), direct.encode(TEXTS))
    # k resolved to the method's default; a shared model is used as it is
    shared = Embedder.from_config({"model": str(tiny_dir), "method": "reba"}, model=direct.lm)
    assert shared.config.k == 2 and shared.lm is direct.lm


def test_a_custom_recipe_survives_save_and_load_in_a_fresh_process(tiny_dir, tmp_path):
    embedder = Embedder(str(tiny_dir), method=CUSTOM, name="cfg-custom", device="cpu")
    assert embedder.config.recipe == CUSTOM
    path = embedder.config.save(tmp_path / "custom.json")
    assert json.loads(path.read_text())["recipe"]["intervention"]["type"] == "tp"
    expected = embedder.encode(TEXTS)
    pickled = tmp_path / "custom.pickle"  # as a Ray worker receives a job
    pickled.write_bytes(pickle.dumps(EmbedderConfig.load(path)))
    script = (
        "import pickle, sys, numpy as np, reba\n"
        "e = reba.Embedder.from_config(sys.argv[1], device='cpu')\n"
        f"np.save(sys.argv[2], e.encode({TEXTS!r}))\n"
        "assert e.config == reba.EmbedderConfig.load(sys.argv[1]), e.config\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = tmp_path / "fresh.npy"
    for source in (path, pickled):
        if source == pickled:
            script = script.replace(
                "from_config(sys.argv[1]", "from_config(pickle.load(open(sys.argv[1], 'rb'))"
            ).replace("reba.EmbedderConfig.load(sys.argv[1])", "e.config")
        done = subprocess.run([sys.executable, "-c", script, str(source), str(out)], env=env)
        assert done.returncode == 0
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-6)
    # a combination on the custom base carries the same recipe
    combined = EmbedderConfig(model=str(tiny_dir), method="cfg-custom+reba")
    assert combined.recipe == CUSTOM


def test_another_recipe_under_a_registered_name_is_refused():
    reba.register_method("cfg-taken", CUSTOM)
    other = Recipe((Prompt('"{text}" means:"'),), "last")
    with pytest.raises(ValueError, match="'cfg-taken' is already registered.*another recipe"):
        EmbedderConfig(method="cfg-taken", recipe=other)
    assert EmbedderConfig(method="cfg-taken", recipe=CUSTOM).recipe == CUSTOM
