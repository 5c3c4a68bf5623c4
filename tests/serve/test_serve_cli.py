"""``reba serve``: configuration specs, served names, one load per model, the CLI wiring."""

from __future__ import annotations

import pytest

import reba
import reba.serve
from reba import EmbedderConfig
from reba.cli.main import main
from reba.serve.configs import ServedConfig, build_embedders, default_name, parse_serve_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("zh=gemma-3-270m:reba:2", ("gemma-3-270m", "reba", 2, "zh")),
        ("smollm2-135m:mean", ("smollm2-135m", "mean", None, None)),
        ("smollm2-135m", ("smollm2-135m", "reba", None, None)),
        ("e=/models/a:b/m.gguf:echo:3", ("/models/a:b/m.gguf", "echo", 3, "e")),
    ],
)
def test_parse_serve_spec(spec, expected):
    assert parse_serve_spec(spec) == spec_of(*expected)
    layered = parse_serve_spec(spec, EmbedderConfig(model="x", layer=-2, max_length=64))
    assert layered.config == spec_of(*expected).config.replace(layer=-2, max_length=64)


def spec_of(model, method="reba", k=None, name=None) -> ServedConfig:
    return ServedConfig(EmbedderConfig(model=model, method=method, k=k), name)


@pytest.mark.parametrize("spec", ["x=", "=m:reba", "m:2", "m:nomethod:2", ""])
def test_bad_serve_specs_say_the_form(spec):
    with pytest.raises(ValueError, match=r"\[NAME=\]MODEL|K must follow"):
        parse_serve_spec(spec)


def test_default_names(tiny_lm):
    assert default_name(reba.Embedder(tiny_lm), "gemma-3-270m") == "gemma-3-270m-reba-k2"
    mean = reba.Embedder(tiny_lm, method="mean", layer=1)
    assert default_name(mean, "/x/y/model.gguf") == "model-mean-k1-L1"
    assert default_name(reba.Embedder(tiny_lm, method="echo", k=3), "o/m") == "m-echo-k3"


def test_each_model_is_loaded_once_and_shared(tiny_lm):
    loads = []

    def loader(name, **options):
        loads.append(name)
        return tiny_lm

    specs = [spec_of("a"), spec_of("a", "mean"), spec_of("b", "echo", 3, "e3")]
    served = build_embedders(specs, loader=loader)
    assert list(served) == ["a-reba-k2", "a-mean-k1", "e3"]
    assert loads == ["a", "b"]
    assert served["a-reba-k2"].lm is served["a-mean-k1"].lm
    with pytest.raises(ValueError, match="served as"):
        build_embedders([spec_of("a"), spec_of("a", "reba", 2)], loader=loader)


@pytest.fixture
def captured(monkeypatch, tiny_lm):
    """Run ``reba serve`` with the tiny model and without starting uvicorn."""
    seen = {"loads": []}

    def loader(name, **options):
        seen["loads"].append(name)
        return tiny_lm

    def run_server(app, *, host, port, root_path, log_level, access_log):
        seen.update(app=app, host=host, port=port, root_path=root_path, access_log=access_log)

    monkeypatch.setattr("reba.serve.configs.load_model", loader)
    monkeypatch.setattr(reba.serve, "run_server", run_server)
    return seen


def test_cli_serves_the_model_options_under_name(captured):
    assert main(["serve", "--model", "m", "--method", "echo", "-k", "3", "--name", "x"]) == 0
    app = captured["app"]
    assert list(app.state.configs) == ["x"]
    assert app.state.configs["x"].k == 3
    assert (captured["host"], captured["port"]) == ("127.0.0.1", 8000)
    assert captured["access_log"]


def test_cli_serve_specs_and_limits(captured):
    argv = ["serve", "--serve", "a=m:reba:2", "--serve", "m:mean", "--max-items", "5"]
    assert main([*argv, "--max-wait-ms", "2", "--port", "9001", "--no-access-log"]) == 0
    app = captured["app"]
    assert list(app.state.configs) == ["a", "m-mean-k1"]  # no default --model config
    assert captured["loads"] == ["m"]
    assert app.state.settings.max_items == 5 and app.state.settings.max_wait_ms == 2
    assert captured["port"] == 9001 and not captured["access_log"]
    assert app.state.settings.max_body_bytes == 4 * 1024 * 1024  # the documented defaults
    assert app.state.settings.request_timeout == 60 and captured["root_path"] == ""


def test_cli_body_limit_deadline_and_root_path(captured):
    argv = ["serve", "--model", "m", "--max-body-bytes", "1000", "--request-timeout", "2.5"]
    assert main([*argv, "--root-path", "/embeddings"]) == 0
    settings = captured["app"].state.settings
    assert (settings.max_body_bytes, settings.request_timeout) == (1000, 2.5)
    assert captured["root_path"] == "/embeddings"
    assert main(["serve", "--model", "m", "--request-timeout", "0"]) == 0
    assert captured["app"].state.settings.request_timeout is None  # 0: no deadline


def test_cli_rejects_bad_options(captured, capsys):
    assert main(["serve", "--serve", "m:2"]) == 2
    assert main(["serve", "--model", "m", "--max-items", "0"]) == 2
    assert main(["serve", "--serve", "m", "--name", "n"]) == 2
    assert main(["serve", "--model", "m", "--max-body-bytes", "0"]) == 2
    assert main(["serve", "--model", "m", "--root-path", "api/"]) == 2
    assert "reba serve: error" in capsys.readouterr().err
    assert "app" not in captured


def test_cli_serves_configuration_files_as_written(captured, tmp_path):
    echo = EmbedderConfig(model="m", method="echo", k=3, layer=-2).save(tmp_path / "echo.json")
    mean = EmbedderConfig(model="m", method="mean").save(tmp_path / "a=b.json")  # '=' in a path
    argv = ["serve", "--config", f"e={echo}", "--config", str(mean), "--serve", "m:reba"]
    assert main([*argv, "--max-length", "64"]) == 0
    configs = captured["app"].state.configs
    assert list(configs) == ["m-reba-k2", "e", "m-mean-k1"]
    assert configs["e"].config == EmbedderConfig.load(echo).replace(dtype="float32")
    assert configs["m-reba-k2"].config.max_length == 64  # flags apply to --serve, not files
    assert configs["e"].config.max_length is None


def test_cli_refuses_flags_meant_for_a_configuration_file(captured, tmp_path, capsys):
    path = EmbedderConfig(model="m", method="mean").save(tmp_path / "c.json")
    assert main(["serve", "--config", str(path), "--layer", "2"]) == 2
    assert "a --config file is served as written" in capsys.readouterr().err
    assert main(["serve", "--config", "x=", "--serve", "m"]) == 2
    assert main(["serve", "--config", str(tmp_path / "missing.json")]) == 2
    assert "app" not in captured
