"""Vectors do not change for an unchanged configuration without a bump of the vectors
revision (``reba._version.VECTORS_REVISION``, part of every cache key).

``tests/fingerprints.json`` holds, for every preset on two tiny random models (with and
without a BOS token) and the word-level methods on one, a signature of the vectors of a few
texts: each vector's projections on four fixed random directions after L2 normalisation
(rounded to 1e-5), and a digest of the configuration that produced them (the method's
fingerprint, its part of cache keys). A signature is compared with a tolerance of 2e-3 rather
than hashed, so float noise across machines, thread counts and batch sizes never flips it,
while any real change of a method (a template, its tokenization, a layer, a read-out) moves it
by far more.

- Vectors moved and the configuration is the same: the computation changed; cached vectors
  are stale. Set ``VECTORS_REVISION`` to the new ``__version__`` and rewrite the table.
- Vectors moved with the configuration (a preset's template or option changed, a new preset):
  its cache keys changed by themselves; rewrite the table, no revision bump.

    PYTHONPATH=src python tests/test_fingerprints.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiny_models import make_causal_lm, make_model  # noqa: E402
from tiny_moe import make_moe_model  # noqa: E402

import reba  # noqa: E402
from reba._version import VECTORS_REVISION, __version__  # noqa: E402
from reba.methods import EmbeddingConfig, check_config  # noqa: E402
from reba.models.anatomy import UnsupportedArchitectureError  # noqa: E402
from reba.models.identity import model_digest  # noqa: E402

TABLE = Path(__file__).with_name("fingerprints.json")
FAMILIES = ("llama", "gpt2")
TEXTS = [
    "The bank raised interest rates again this year.",
    "我们去银行取钱，然后去河边散步。",
    "Repetition lets early tokens see the whole sentence.",
]
WORDS = [(TEXTS[0], "bank"), ("We sat on the river bank.", "bank")]
TOLERANCE = 2e-3
_DIRECTIONS = np.random.default_rng(20261206).standard_normal((64, 4))  # rows 0-31 as before


def signature(vectors: np.ndarray) -> list[list[float]]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    directions = _DIRECTIONS[: unit.shape[1]] / np.linalg.norm(_DIRECTIONS[: unit.shape[1]], axis=0)
    return np.round(unit @ directions, 5).tolist()


def configuration(lm, method: str, level: str = "sentence") -> str:
    """A digest of the method's fingerprint on ``lm`` (its part of cache keys), without where
    MoEE's fitted statistics lie (a temporary folder) or their digest (float noise)."""
    default_k = reba.PRESETS[method].default_k if method in reba.PRESETS else 1
    checked = check_config(EmbeddingConfig(method, k=default_k), level)
    fingerprint = checked.bind(lm.num_layers).fingerprint()
    fingerprint.pop("stats_sha256", None)
    if isinstance(fingerprint.get("moee"), dict):
        fingerprint["moee"] = {k: v for k, v in fingerprint["moee"].items() if k != "stats"}
    text = json.dumps(fingerprint, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compute(batch_size: int = 16) -> dict:
    table: dict = {
        "reba_version": __version__,
        "vectors_revision": VECTORS_REVISION,
        "models": {},
        "configurations": {},
        "signatures": {},
    }
    configs = table["configurations"]
    for family in FAMILIES:
        lm = reba.wrap_model(*make_model(family), name=f"tiny-{family}")
        table["models"][family] = model_digest(lm)
        # read-outs through the LM head: the causal LM with its head (Llama's untied)
        with_head = reba.wrap_model(*make_causal_lm(family), name=f"tiny-lm-{family}")
        table["models"][f"{family}-lm"] = model_digest(with_head)
        for method, recipe in reba.PRESETS.items():
            if recipe.moee is not None:
                continue  # mixture-of-experts models only: below
            needs_head = recipe.embedfilter is not None or recipe.sparse is not None
            model = with_head if needs_head else lm
            try:
                vectors = reba.Embedder(model, method=method).encode(TEXTS, batch_size=batch_size)
            except UnsupportedArchitectureError:  # e.g. VA on GPT-2's fused q/k/v: no signature
                continue
            table["signatures"][f"{family}/{method}"] = signature(vectors)
            configs[f"{family}/{method}"] = configuration(model, method)
        if family == FAMILIES[0]:
            for method in reba.WORD_METHODS:
                words = reba.Embedder(lm, method=method).encode_words(WORDS, batch_size=batch_size)
                table["signatures"][f"{family}/{method}/word"] = signature(words)
                configs[f"{family}/{method}/word"] = configuration(lm, method, "word")
    table["signatures"].update(moee_signatures(table["models"], configs, batch_size))
    return table


def moee_signatures(models: dict, configs: dict, batch_size: int) -> dict:
    """MoEE's presets on a tiny Mixtral, with statistics fitted on ``TEXTS``."""
    import tempfile

    from reba.moee import fit_stats

    lm = reba.wrap_model(*make_moe_model("mixtral"), name="tiny-mixtral")
    models["mixtral"] = model_digest(lm)
    out = {}
    for method, recipe in reba.PRESETS.items():
        if recipe.moee is not None:
            with tempfile.TemporaryDirectory() as folder:
                fitted = fit_stats(lm, TEXTS, folder, method=method)
                vectors = reba.Embedder(lm, method=fitted).encode(TEXTS, batch_size=batch_size)
                configs[f"mixtral/{method}"] = configuration(lm, method)
            out[f"mixtral/{method}"] = signature(vectors)
    return out


@pytest.fixture(scope="module")
def stored() -> dict:
    return json.loads(TABLE.read_text())


def test_vectors_match_the_fingerprint_table(stored, batch_size=16):
    """(``batch_size``: checked by hand at 1 and 16, with 1 and 2 threads: same table.)"""
    current = compute(batch_size)
    assert current["models"] == stored["models"], (
        "the tiny test models themselves changed (torch/transformers initialisation?); "
        "rewrite the table: PYTHONPATH=src python tests/test_fingerprints.py --write"
    )
    moved = [
        key
        for key, sig in current["signatures"].items()
        if key not in stored["signatures"]
        or np.abs(np.subtract(sig, stored["signatures"][key])).max() > TOLERANCE
    ]
    known = stored.get("configurations", {})
    same_configuration = [k for k in moved if known.get(k) == current["configurations"][k]]
    if stored.get("vectors_revision") == VECTORS_REVISION:
        assert not same_configuration, (
            f"vectors changed for an unchanged configuration ({', '.join(same_configuration)}): "
            f"cached vectors are stale. Set VECTORS_REVISION in src/reba/_version.py to the new "
            f"version (now {VECTORS_REVISION}, reba {__version__}) and rewrite the table: "
            "PYTHONPATH=src python tests/test_fingerprints.py --write"
        )
    outdated = moved + [
        k for k, digest in current["configurations"].items() if known.get(k) != digest
    ]
    outdated += [k for k in stored["signatures"] if k not in current["signatures"]]
    outdated += [] if stored.get("reba_version") == __version__ else ["reba_version"]
    outdated += [] if stored.get("vectors_revision") == VECTORS_REVISION else ["vectors_revision"]
    assert not outdated, (
        f"the fingerprint table is out of date ({', '.join(sorted(set(outdated)))}): the "
        "configurations (and so the cache keys) changed with the vectors; rewrite it: "
        "PYTHONPATH=src python tests/test_fingerprints.py --write"
    )


def dump(table: dict) -> str:
    """The table as JSON with one line per signature."""
    head = {key: value for key, value in table.items() if key != "signatures"}
    rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in table["signatures"].items())
    return json.dumps(head, indent=1)[:-2] + ',\n "signatures": {\n' + rows + "\n }\n}\n"


if __name__ == "__main__" and sys.argv[1:2] == ["--write"]:
    TABLE.write_text(dump(compute()))
    print(f"wrote {TABLE}")
elif __name__ == "__main__" and sys.argv[1:2] == ["--check"]:  # e.g. --check 1: batch size 1
    test_vectors_match_the_fingerprint_table(json.loads(TABLE.read_text()), int(sys.argv[2]))
    print("the vectors match the table")
