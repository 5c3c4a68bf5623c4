"""``--config FILE`` on the command line: the file's configuration runs, flags beside it are
refused, and the outputs record it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reba import Embedder, EmbedderConfig
from reba.cli.main import main

TEXTS = ["The bank raised interest rates.", "我们去银行取钱。", "A bat flew out of the cave."]


@pytest.fixture
def config_file(tiny_dir, tmp_path):
    config = EmbedderConfig(str(tiny_dir), "echo", k=3, layer=-2, dtype="float32")
    return config.save(tmp_path / "echo.json")


def test_embed_runs_the_configuration_file(config_file, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "out.npy"
    argv = ["embed", "--config", str(config_file), "-i", str(source), "-o", str(out)]
    assert main([*argv, "--device", "cpu", "--batch-size", "2", "--quiet"]) == 0
    expected = Embedder.from_config(config_file, device="cpu")
    np.testing.assert_allclose(np.load(out), expected.encode(TEXTS), rtol=1e-5, atol=1e-6)
    sidecar = json.loads(out.with_name("out.npy.json").read_text())
    assert sidecar["embedder_config"] == expected.config.to_dict()
    assert EmbedderConfig.from_dict(sidecar["embedder_config"]).k == 3


@pytest.mark.parametrize("flag", [["--method", "mean"], ["-k", "2"], ["--include-prefix"]])
def test_configuration_flags_beside_a_file_are_refused(config_file, tmp_path, capsys, flag):
    argv = ["embed", "--config", str(config_file), "-i", "x.txt", "-o", str(tmp_path / "o.npy")]
    assert main([*argv, *flag]) == 2
    assert "cannot be combined with it" in capsys.readouterr().err
    export = ["export", "st", str(tmp_path / "st"), "--config", str(config_file), *flag]
    assert main(export) == 2


def test_a_bad_configuration_file_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "reba.embedder-config", "version": 2, "k": 0}))
    assert main(["embed", "--config", str(bad), "-i", "x.txt", "-o", "o.npy"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "k (the number of copies) must be an integer >= 1" in err


def test_export_st_writes_the_configuration_file(config_file, tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers", reason="reba export st needs reba[st]")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    out = tmp_path / "st"
    assert main(["export", "st", str(out), "--config", str(config_file), "--device", "cpu"]) == 0
    assert EmbedderConfig.load(out / "reba_config.json") == EmbedderConfig.load(config_file)
