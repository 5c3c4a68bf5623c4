"""transformers internals are looked up when used: ``import reba`` survives a renamed helper,
and using it fails with an error naming the helper, the installed and the tested versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reba.attention import transformers_internals as internals

ROOT = Path(__file__).resolve().parents[1]

RENAMED = """
import sys
sys.path.insert(0, {tests!r})
import transformers.masking_utils as mu
kept = mu.prepare_padding_mask
del mu.prepare_padding_mask                      # as if a release renamed it
import reba                                      # must not fail (reba used to import it here)
mu.prepare_padding_mask = kept                   # transformers itself needs it to run
del mu.eager_mask                                # a helper only reba looks up by name
from tiny_models import make_model
from reba.attention.transformers_internals import TransformersAPIError
lm = reba.wrap_model(*make_model("llama"), name="t")
try:
    reba.Embedder(lm, method="reba", k=2).encode(["a text"])
except TransformersAPIError as err:
    print("ERROR:", err)
"""


def test_import_survives_a_renamed_helper_and_use_names_it():
    code = RENAMED.format(tests=str(ROOT / "tests"))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ERROR: reba uses transformers' masking_utils.eager_mask" in run.stdout
    assert f"tested with {internals.TESTED}" in run.stdout


def test_an_unsupported_version_is_refused_clearly(monkeypatch):
    monkeypatch.setattr(internals, "_version", lambda: "6.1.0")
    internals.check_version.cache_clear()
    try:
        with pytest.raises(
            internals.TransformersAPIError, match=r"transformers >=5\.25,<6.*6\.1\.0"
        ):
            internals.check_version()
    finally:
        internals.check_version.cache_clear()
    assert internals._release("5.25.0.dev0") == (5, 25) and internals._release("6.0.0rc1") == (6, 0)


def test_the_installed_version_is_within_the_pyproject_bounds():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    import transformers

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [spec] = [d for d in deps if d.startswith("transformers")]
    low, below = (".".join(map(str, v)) for v in (internals.LOWEST, internals.BELOW[:1]))
    assert spec == f"transformers>={low},<{below}"
    assert internals.check_version() == transformers.__version__
