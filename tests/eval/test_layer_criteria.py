"""The label-free layer criteria (dataset entropy, TwoNN) against independent computations,
and ``reba eval --layers free``: its row chooses the candidate the criterion prefers on the
task's texts (recomputed here from Embedder vectors) and reports the test half there."""

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

import reba
from reba.cli.evaluate import parse_layers, wants_free
from reba.eval import splits
from reba.eval.layer_criteria import dataset_entropy, layer_score, twonn_dimension
from reba.eval.runner import Sweep, run_sweep, sweep_configs
from reba.eval.selection import dev_layers
from reba.eval.tasks import load_task


def entropy_by_svd(x):
    """Dataset entropy from the singular values of the centred unit rows (not the Gram)."""
    z = x - x.mean(0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    s2 = np.linalg.svd(z, compute_uv=False) ** 2
    p = s2[s2 > 1e-12] / s2[s2 > 1e-12].sum()
    return -sum(q * math.log(q) for q in p) / math.log(min(x.shape))


def twonn_by_loops(x, fraction=0.9):
    """TwoNN written out: nearest neighbours by a loop, the line fitted by lstsq."""
    n = len(x)
    mus = []
    for i in range(n):
        d = sorted(float(np.linalg.norm(x[i] - x[j])) for j in range(n) if j != i)
        mus.append(d[1] / d[0])
    logs = np.sort(np.log(mus))[: int(n * fraction)]
    y = np.array([-math.log(1 - (i + 1) / n) for i in range(len(logs))])
    slope, *_ = np.linalg.lstsq(logs[:, None], y, rcond=None)
    return float(slope[0])


def test_dataset_entropy_matches_an_independent_computation():
    rng = np.random.default_rng(0)
    for shape in [(7, 5), (5, 9), (30, 30)]:
        x = rng.normal(size=shape) @ np.diag(rng.uniform(0.1, 3, shape[1]))
        assert dataset_entropy(x) == pytest.approx(entropy_by_svd(x), abs=1e-10)
    # +-e1, +-e2 in 3 dimensions: two equal eigenvalues, log 2 / log min(4, 3)
    square = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], dtype=float)
    assert dataset_entropy(square) == pytest.approx(math.log(2) / math.log(3))


def test_twonn_matches_an_independent_computation():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(25, 6))
    assert twonn_dimension(x) == pytest.approx(twonn_by_loops(x), rel=1e-9)
    plane = rng.uniform(size=(400, 2)) @ rng.normal(size=(2, 8))  # a 2-D sheet in 8-D
    assert twonn_dimension(plane) == pytest.approx(2.0, abs=0.3)


def test_layer_score_signs_and_refusals():
    x = np.random.default_rng(2).normal(size=(12, 4))
    assert layer_score("entropy", x) == dataset_entropy(x)  # higher preferred
    assert layer_score("twonn", x) == -twonn_dimension(x)  # lower preferred
    with pytest.raises(ValueError, match="unknown layer criterion 'curvature'"):
        layer_score("curvature", x)
    with pytest.raises(ValueError, match="at least 3 vectors"):
        twonn_dimension(x[:2])


def test_layers_option_parses_free():
    assert parse_layers("own,dev,free") == ([None], True)
    assert wants_free("own, free") and not wants_free("own,dev")


def test_value_readouts_keep_their_own_layer_range_in_sweeps():
    configs = sweep_configs(["va", "prompteol"], [1], [None, -2], "sentence")
    assert [(c.method, c.layer) for c in configs] == [
        ("va", None),
        ("prompteol", None),
        ("prompteol", -2),
    ]


@pytest.mark.parametrize("criterion", ["entropy", "twonn"])
def test_free_row_chooses_by_the_criterion_on_the_texts(small_data, tmp_path, criterion):
    from tiny_models import make_model

    lm = reba.wrap_model(*make_model("llama"), name="tiny-llama")
    sweep = Sweep(("prompteol", "alignedwva"), free=True, free_criterion=criterion)
    doc = run_sweep(lm, ["en_STSB"], small_data, sweep, cache_path=tmp_path / "c.sqlite")
    assert {r.get("selection") for r in doc["rows"]} == {"fixed", "free"}  # no @dev row
    [row] = [r for r in doc["rows"] if r.get("selection") == "free"]  # none for alignedwva
    assert row["label"] == "prompteol @free" and row["criterion"] == criterion
    task = load_task(small_data, "en_STSB")
    texts = list(dict.fromkeys(t for r in task.rows["data"] for t in (r["s1"], r["s2"])))
    candidates = sorted({*dev_layers(6), -1})
    scores = {
        layer: layer_score(
            criterion, reba.Embedder(lm, method="prompteol", layer=layer).encode(texts)
        )
        for layer in candidates
    }
    chosen = row["chosen"]["en_STSB"]
    assert scores[chosen["layer"]] == pytest.approx(max(scores.values()), abs=1e-9)
    assert chosen["texts"] == len(texts)
    test = splits.split(task, "test").rows["data"]
    emb = reba.Embedder(lm, method="prompteol", layer=chosen["layer"])
    a, b = emb.encode([r["s1"] for r in test]), emb.encode([r["s2"] for r in test])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    want = spearmanr(cos, [r["score"] for r in test]).statistic
    assert row["scores"]["en_STSB"]["value"] == pytest.approx(want, abs=1e-6)
    if criterion == "entropy":  # the report and figures show the row and its choices
        from reba.eval.publish import write_report
        from reba.eval.runner import write_results

        write_results(doc, tmp_path / "out")
        files = write_report(tmp_path / "out")
        report = (tmp_path / "out" / "results.md").read_text()
        assert "prompteol @free" in report
        assert "Chosen by the label-free criterion (entropy) on each task's texts" in report
        assert f"| 1/{6 + 1 + chosen['layer']} |" in report
        assert any(f.name == "sentence.png" for f in files)  # @free rows left out of k plots
