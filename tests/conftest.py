import os
import sys
from pathlib import Path

# Tests never touch the network: hub look-ups fail at once instead of timing out.
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import make_model  # noqa: E402

import reba  # noqa: E402

FAMILIES = ("llama", "qwen2", "gemma3", "gpt2")
DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)


QWEN = "qwen2.5-coder-0.5b"


def pytest_collection_modifyitems(config, items):
    """Tests marked ``qwen`` need the optional 0.5B model and take minutes: they run only when
    it is installed and selected with ``-m qwen`` (``make test-qwen``); else they skip, saying
    why."""
    marked = [item for item in items if item.get_closest_marker("qwen")]
    if not marked:
        return
    model = reba.BUNDLED_MODELS[QWEN]
    if not model.installed():
        reason = f"needs the optional model {QWEN}: make qwen (or {model.install})"
    elif "qwen" not in (config.getoption("markexpr") or ""):
        reason = f"model-heavy ({QWEN}): run with make test-qwen"
    else:
        return
    for item in marked:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", params=FAMILIES)
def tiny(request):
    """A LoadedModel wrapping a tiny random model of each family."""
    model, tokenizer = make_model(request.param)
    return reba.wrap_model(model, tokenizer, name=f"tiny-{request.param}")


@pytest.fixture(scope="session")
def smollm2():
    """The real SmolLM2-135M weights (bundled package; converted once into the cache)."""
    return reba.load_model("smollm2-135m", device="cpu")


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A tiny random Llama saved as a local model folder (what a user's own model looks like)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    model, tokenizer = make_model("llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def qwen():
    """The real Qwen2.5-Coder-0.5B weights (optional, hash-pinned parts; tests marked qwen)."""
    return reba.load_model(QWEN, device="cpu")
