"""What the leaderboard relies on: named grids, dev/test splits, layers chosen on dev only,
bootstrap standard errors, samples and costs, each checked against an independent computation."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

import reba
from reba.eval import splits
from reba.eval.grids import GRIDS, expand
from reba.eval.metrics import bootstrap_se
from reba.eval.runner import Sweep, run_sweep
from reba.eval.selection import best, dev_layers
from reba.eval.tasks import load_task
from reba.methods import PRESETS, parse_method


@pytest.fixture(scope="module")
def lm():
    from tiny_models import make_model

    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


def test_grids_expand_to_valid_methods():
    assert expand("prompts,reba,prompts") == [*GRIDS["prompts"], "reba"]
    for name in expand("all,word"):
        parse_method(name)  # every grid member is a valid method
    assert set(GRIDS["interventions"]) == {n for n in PRESETS if "+" in n}
    assert "pcot+tp+reba" in GRIDS["reba-prompts"]


def test_split_halves_partition_the_scored_role(small_data):
    for name in ("en_STSB", "zh_tnews", "zh_CMRC", "en_WiC_dev"):
        task = load_task(small_data, name)
        role = splits.split_role(task)
        dev, test = splits.split(task, "dev"), splits.split(task, "test")
        ids = [id(r) for r in task.rows[role]]
        assert sorted(map(id, dev.rows[role] + test.rows[role])) == sorted(ids)
        assert not set(map(id, dev.rows[role])) & set(map(id, test.rows[role]))
        others = [r for r in task.rows if r != role]
        assert all(dev.rows[r] == task.rows[r] == test.rows[r] for r in others)


def test_sample_is_seeded_and_keeps_relevant_documents():
    from conftest import DATA_DIR

    task = load_task(DATA_DIR, "zh_CMRC")
    a, b = splits.sample(task, 30, seed=1), splits.sample(task, 30, seed=1)
    assert a.rows == b.rows and len(a.rows["queries"]) == 30
    ids = {r["id"] for r in a.rows["corpus"]}
    assert all(doc in ids for q in a.rows["queries"] for doc in q["relevant"])
    assert 30 <= len(ids) < len(task.rows["corpus"])
    assert a.rows != splits.sample(task, 30, seed=2).rows


def test_dev_layers_and_best():
    assert dev_layers(18) == sorted({6 - 19, 9 - 19, 12 - 19, 15 - 19, 16 - 19, 17 - 19, -1})
    assert best({"a": 0.2, "b": float("nan"), "c": 0.5, "d": 0.5}) == "c"


def test_bootstrap_se_is_the_spread_of_resampled_means():
    values = np.random.default_rng(3).random(50)
    se = bootstrap_se(lambda idx: float(values[idx].mean()), 50, 400, seed=0)
    assert se == pytest.approx(values.std(ddof=1) / np.sqrt(50), rel=0.15)


def test_dev_choice_uses_only_the_dev_half(lm, small_data, tmp_path):
    """The chosen (k, layer) maximises the dev-half score, recomputed here from Embedder
    vectors; the reported score is the test half's at that choice."""
    sweep = Sweep(("reba",), ks=(2,), dev=True, dev_ks=(1, 2), bootstrap=50)
    doc = run_sweep(lm, ["en_STSB"], small_data, sweep, cache_path=tmp_path / "c.sqlite")
    fixed = next(r for r in doc["rows"] if r.get("selection") == "fixed")
    dev_row = next(r for r in doc["rows"] if r.get("selection") == "dev")
    assert dev_row["label"] == "reba @dev" and fixed["label"] == "reba-2"
    task = load_task(small_data, "en_STSB")

    def sts(rows, k, layer):
        emb = reba.Embedder(lm, method="reba", k=k, layer=layer)
        a, b = emb.encode([r["s1"] for r in rows]), emb.encode([r["s2"] for r in rows])
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        return spearmanr(cos, [r["score"] for r in rows]).statistic

    dev, test = (splits.split(task, p).rows["data"] for p in ("dev", "test"))
    options = [(k, layer) for k in (1, 2) for layer in sorted({*dev_layers(6), -1})]
    on_dev = {option: sts(dev, *option) for option in options}
    chosen = dev_row["chosen"]["en_STSB"]
    assert on_dev[(chosen["k"], chosen["layer"])] == pytest.approx(max(on_dev.values()), abs=1e-6)
    got = dev_row["scores"]["en_STSB"]
    assert got["value"] == pytest.approx(sts(test, chosen["k"], chosen["layer"]), abs=1e-6)
    assert fixed["scores"]["en_STSB"]["value"] == pytest.approx(sts(test, 2, None), abs=1e-6)
    assert 0 < got["extra"]["se"] < 1


def test_costs_are_measured_per_method(lm, small_data, tmp_path):
    sweep = Sweep(("mean", "ck"), cost_texts=8)
    doc = run_sweep(lm, ["en_STSB"], small_data, sweep, cache_path=tmp_path / "c.sqlite")
    costs = doc["costs"]
    assert set(costs) == {"mean", "ck"} and costs["ck"]["forwards_per_text"] == 2
    assert costs["mean"]["texts_per_second"] > 0
    json.dumps(doc)  # the document stays plain JSON


def test_paired_differences_are_bootstrapped_on_the_same_resamples():
    from reba.eval.report import _paired

    rng = np.random.default_rng(0)
    shared = rng.normal(0.5, 0.1, 200)  # both rows move together on each resample

    def row(name, shift):
        extra = {"units": 50, "resamples": list(shared + shift + rng.normal(0, 0.001, 200))}
        return {"label": name, "scores": {"t": {"value": 0.5 + shift, "extra": extra}}}

    table = _paired([row("prompteol", 0.0), row("pcot", 0.02)], [("t", "value", "t")], "prompteol")
    line = next(x for x in table.splitlines() if x.startswith("| pcot"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1] == "+0.0200" and float(cells[2]) < 0.002  # far below each score's 0.1
    assert cells[3] == "1 / 0"


def test_forward_passes_are_counted(lm, small_data, tmp_path):
    """One forward row per distinct text for mean (k=1), its tokens as the tokenizer counts."""
    sweep = Sweep(("mean",), ks=(1,))
    doc = run_sweep(lm, ["en_STSB"], small_data, sweep, cache_path=tmp_path / "c.sqlite")
    rows = load_task(small_data, "en_STSB").rows["data"]
    texts = {r[side] for r in rows for side in ("s1", "s2")}
    timings = doc["timings"]
    assert timings["sentence_forward_rows"] == len(texts)
    ids = [lm.tokenizer(t)["input_ids"] for t in texts]  # the special prefix and the text
    assert timings["sentence_forward_tokens"] == sum(len(i) for i in ids)
    assert 1 <= timings["sentence_forward_calls"] <= len(texts)
