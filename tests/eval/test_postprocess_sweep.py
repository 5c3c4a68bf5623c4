"""``reba eval --postprocess``: rows with post-processing fitted on each task's own texts,
scored against an independent computation; the cache keys (vectors before post-processing)
do not change, so a sweep with post-processing embeds nothing a sweep without it embedded."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

import reba
from reba.eval.postprocess import parse_postprocess
from reba.eval.runner import Sweep, run_sweep


@pytest.fixture(scope="module")
def lm():
    from tiny_models import make_model

    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


def sts_spearman(a, b, gold) -> float:
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return spearmanr(cos, gold).statistic


def test_postprocess_rows_match_numpy_and_reuse_the_cache(lm, small_data, tmp_path):
    cache = tmp_path / "c.sqlite"
    plain = Sweep(methods=("reba",), ks=(2,))
    first = run_sweep(lm, ["en_STSB"], small_data, plain, cache_path=cache)
    assert first["timings"]["sentence_inputs_embedded"] > 0
    sweep = Sweep(methods=("reba",), ks=(2,), postprocess=("none", "mean", "abtt:1"))
    doc = run_sweep(lm, ["en_STSB", "zh_SLPWC"], small_data, sweep, cache_path=cache)
    assert doc["timings"]["sentence_inputs_embedded"] == 0  # keys unchanged: all cached
    sentence = {r["label"]: r for r in doc["rows"] if r["level"] == "sentence"}
    assert list(sentence) == ["reba-2", "reba-2/pp-mean", "reba-2/pp-abtt:1"]
    assert [r["label"] for r in doc["rows"] if r["level"] == "word"] == ["reba-2"]
    assert sentence["reba-2/pp-mean"]["postprocess"] == "mean"

    rows = [json.loads(x) for x in (small_data / "sentence/en_STSB.jsonl").read_text().splitlines()]
    gold = [r["score"] for r in rows]
    emb = reba.Embedder(lm, method="reba", k=2)
    texts = list(dict.fromkeys([r["s1"] for r in rows] + [r["s2"] for r in rows]))
    x = dict(zip(texts, emb.encode(texts).astype(np.float64)))
    matrix = np.stack(list(x.values()))
    mean = matrix.mean(axis=0)
    _, _, vt = np.linalg.svd(matrix - mean, full_matrices=False)
    top = vt[:1].T

    def check(label, transform):
        a = np.stack([transform(x[r["s1"]]) for r in rows])
        b = np.stack([transform(x[r["s2"]]) for r in rows])
        got = sentence[label]["scores"]["en_STSB"]["value"]
        assert got == pytest.approx(sts_spearman(a, b, gold), abs=1e-6)

    check("reba-2", lambda v: v)
    check("reba-2/pp-mean", lambda v: v - mean)
    check("reba-2/pp-abtt:1", lambda v: (v - mean) - (v - mean) @ top @ top.T)


def test_postprocess_specs_are_checked():
    assert parse_postprocess("none, mean,abtt:3,whitening:8") == (
        "none", "mean", "abtt:3", "whitening:8"
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown 'zca'"):
        parse_postprocess("none,zca")
    with pytest.raises(ValueError, match="only abtt:K and whitening:DIMS"):
        parse_postprocess("mean:2")
