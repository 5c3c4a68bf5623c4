"""API keys: the real openai client with and without a key, 401 in OpenAI's shape, open
/health, the OpenAPI security scheme, key sources, and what ``reba serve`` says at start-up."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest

import reba.serve
from reba.cli.main import main
from reba.cli.serve import security_notice
from reba.serve import ServeSettings, create_app, serve_in_thread
from reba.serve.auth import key_matches, load_api_keys

KEYS = ("sk-first-key", "sk-second-key")


@pytest.fixture(scope="module")
def locked(configs):
    settings = ServeSettings(max_items=8, max_chars=300, api_keys=KEYS)
    app = create_app(configs, settings=settings)
    with serve_in_thread(app) as running:
        yield running


@pytest.mark.parametrize("key", KEYS)
def test_the_openai_client_with_a_key_gets_embeddings(locked, configs, key):
    with openai.OpenAI(base_url=f"{locked.url}/v1", api_key=key, max_retries=0) as client:
        out = client.embeddings.create(
            model="tiny-reba-k2", input=["hello"], encoding_format="float"
        )
        assert sorted(m.id for m in client.models.list()) == ["tiny-mean-k1", "tiny-reba-k2"]
    expected = configs["tiny-reba-k2"].encode(["hello"])
    np.testing.assert_allclose([out.data[0].embedding], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("key", ["wrong", "sk-first-ke", "sk-first-key2", "Bearer sk-first-key"])
def test_a_wrong_key_is_401_in_the_openai_shape(locked, key):
    client = openai.OpenAI(base_url=f"{locked.url}/v1", api_key=key, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.embeddings.create(model="tiny-reba-k2", input="hello")
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "authentication_error"
    assert caught.value.response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/tiny-mean-k1"),
        ("POST", "/embed"),
        ("POST", "/"),
        ("POST", "/similarity"),
        ("POST", "/tokenize"),
        ("GET", "/info"),
        ("GET", "/metrics"),
        ("POST", "/v1/unknown"),
    ],
)
def test_every_protected_route_needs_the_key(locked, method, path):
    response = httpx.request(method, f"{locked.url}{path}", json={"inputs": "a"}, timeout=30)
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": response.json()["error"]["message"],
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    basic = httpx.request(
        method, f"{locked.url}{path}", headers={"Authorization": f"Basic {KEYS[0]}"}, timeout=30
    )
    assert basic.status_code == 401


def test_health_and_the_schema_stay_open(locked):
    assert httpx.get(f"{locked.url}/health").status_code == 200
    schema = httpx.get(f"{locked.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert schema["paths"]["/v1/embeddings"]["post"]["security"] == [{"bearerAuth": []}]
    assert "401" in schema["paths"]["/embed"]["post"]["responses"]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_metrics_with_the_key_or_public(locked, configs):
    headers = {"Authorization": f"Bearer {KEYS[1]}"}
    assert httpx.get(f"{locked.url}/metrics", headers=headers).status_code == 200
    settings = ServeSettings(api_keys=KEYS, public_metrics=True)
    with serve_in_thread(create_app(configs, settings=settings)) as running:
        assert httpx.get(f"{running.url}/metrics").status_code == 200
        assert httpx.get(f"{running.url}/info").status_code == 401


def test_without_keys_the_schema_declares_no_security(server):
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert "securitySchemes" not in schema.get("components", {})
    assert "security" not in schema["paths"]["/v1/embeddings"]["post"]


def test_key_matching():
    assert key_matches("Bearer k1", ["k0", "k1"]) and key_matches("bearer k1", ["k1"])
    assert not key_matches("Bearer k1 ", ["k"]) and not key_matches(None, ["k"])
    assert not key_matches("Token k1", ["k1"]) and not key_matches("Bearer ", ["k1"])


def test_keys_from_options_environment_and_file(tmp_path):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# operators\nfile-key\n\n  other-key  \ncli-key\n")
    keys = load_api_keys(["cli-key"], key_file, {"REBA_API_KEY": "env-1, env-2"})
    assert keys == ("cli-key", "env-1", "env-2", "file-key", "other-key")
    with pytest.raises(ValueError, match="spaces or non-ASCII"):
        load_api_keys(["two words"], environ={})
    (tmp_path / "empty.txt").write_text("# none\n")
    with pytest.raises(ValueError, match="holds no key"):
        load_api_keys([], tmp_path / "empty.txt", environ={})
    with pytest.raises(ValueError, match="cannot read"):
        load_api_keys([], tmp_path / "missing.txt", environ={})


def test_start_up_says_who_can_use_the_server():
    assert "unauthenticated" in security_notice("127.0.0.1", 8000, 0)
    assert "WARNING" not in security_notice("127.0.0.1", 8000, 0)
    assert "WARNING" not in security_notice("localhost", 8000, 0)
    warning = security_notice("0.0.0.0", 8000, 0)
    assert "WARNING" in warning and "--api-key" in warning
    assert "WARNING" in security_notice("my-host.example", 8000, 0)
    assert "2 API keys required" in security_notice("0.0.0.0", 8000, 2)


def test_cli_reads_keys_and_prints_the_notice(monkeypatch, tiny_lm, tmp_path, capsys):
    seen = {}
    monkeypatch.setattr("reba.serve.configs.load_model", lambda name, **options: tiny_lm)
    monkeypatch.setattr(reba.serve, "run_server", lambda app, **options: seen.update(app=app))
    monkeypatch.setenv("REBA_API_KEY", "env-key")
    (tmp_path / "keys").write_text("file-key\n")
    argv = [
        "serve",
        "--model",
        "m",
        "--api-key",
        "cli-key",
        "--api-key-file",
        str(tmp_path / "keys"),
    ]
    assert main([*argv, "--host", "0.0.0.0", "--prompt", "query=query: "]) == 0
    settings = seen["app"].state.settings
    assert settings.api_keys == ("cli-key", "env-key", "file-key")
    assert settings.prompts == {"query": "query: "}
    assert "cli-key" not in repr(settings)
    assert "3 API keys required" in capsys.readouterr().err
    monkeypatch.delenv("REBA_API_KEY")
    assert main(["serve", "--model", "m", "--host", "0.0.0.0"]) == 0
    assert "WARNING: unauthenticated" in capsys.readouterr().err
    assert main(["serve", "--model", "m", "--api-key", "a b"]) == 2
    assert main(["serve", "--model", "m", "--prompt", "noequals"]) == 2
