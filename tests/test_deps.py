"""Every command checks its optional dependencies before any work and names the pip line."""

from __future__ import annotations

import sys

import pytest

import reba.models
import reba.serve.configs
from reba.cli.deps import MissingDependency, missing_modules, require
from reba.cli.main import main


@pytest.fixture
def no_model_work(monkeypatch):
    """Loading a model fails the test: the dependency check must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the dependency check")

    monkeypatch.setattr(reba.models, "load_model", refuse)
    monkeypatch.setattr(reba.serve.configs, "load_model", refuse)


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("matplotlib", ["eval", "--data", "nowhere", "--out", "x"], "eval"),
        ("sklearn", ["eval", "--data", "nowhere", "--out", "x"], "eval"),
        ("matplotlib", ["report", "nowhere"], "eval"),
        ("prometheus_client", ["serve", "--model", "tiny-random-llama"], "serve"),
        ("fastapi", ["serve"], "serve"),
        ("sentence_transformers", ["export", "st", "out", "--model", "tiny-random-llama"], "st"),
        ("ray", ["embed", "--engine", "ray", "-i", "missing.jsonl", "-o", "out"], "ray"),
    ],
)
def test_a_missing_package_stops_the_command_first(
    monkeypatch, capsys, no_model_work, module, argv, extra
):
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"needs {module}" in err
    assert f'pip install "reba[{extra}]"' in err
    assert "No such file" not in err and "results.json" not in err  # no work was started


def test_the_local_embed_engine_needs_no_ray(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["embed", "-i", str(tmp_path / "missing.txt"), "-o", "x.npy"]) == 2
    assert "ray" not in capsys.readouterr().err  # it failed on the input file, not on ray


def test_require_and_missing_modules(monkeypatch):
    assert missing_modules(["json", "no_such_module_here", "no_such.sub"]) == [
        "no_such_module_here",
        "no_such.sub",
    ]
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(MissingDependency, match=r'reba eval needs scipy.*"reba\[eval\]"'):
        require("eval", "reba eval")
    assert issubclass(MissingDependency, ImportError)
