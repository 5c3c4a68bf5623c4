"""``reba eval`` end to end on a few items per task with a tiny model: scores, cache, report."""

import json

import numpy as np
import pytest
import reference as R
from readme import code_block
from scipy.stats import spearmanr

import reba
from reba.cli.main import main
from reba.eval.runner import Sweep, run_sweep, sweep_configs
from reba.methods import EmbeddingConfig

from .conftest import ROWS_PER_FILE


def row(doc: dict, level: str, label: str) -> dict:
    return next(r for r in doc["rows"] if (r["level"], r["label"]) == (level, label))


@pytest.fixture(scope="module")
def lm():
    from tiny_models import make_model

    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


def test_sweep_configs_per_level():
    word = sweep_configs(["mean", "echo", "reba", "prompteol", "pcot+reba"], [1, 2], [-1], "word")
    assert [c.label() for c in word] == [
        "mean", "echo-1", "echo-2", "reba-1", "reba-2", "pcot+reba/L-1"
    ]  # fmt: skip
    sentence = sweep_configs(["last", "reba+prefix"], [2], [-1, 1], "sentence")
    assert [c.label() for c in sentence] == ["last", "last/L1", "reba-2/prefix", "reba-2/L1/prefix"]


def test_tiny_sweep_scores_match_an_independent_computation(lm, small_data, tmp_path):
    tasks = ["zh_SLPWC", "en_STSB", "zh_tnews", "en_WiC_dev"]
    sweep = Sweep(methods=("mean", "reba"), ks=(1, 2))
    doc = run_sweep(lm, tasks, small_data, sweep, cache_path=tmp_path / "c.sqlite")
    labels = [(r["level"], r["label"]) for r in doc["rows"]]
    assert labels == [
        ("word", "mean"),
        ("word", "reba-1"),
        ("word", "reba-2"),
        ("sentence", "mean"),
        ("sentence", "reba-1"),
        ("sentence", "reba-2"),
    ]
    assert doc["timings"]["word_inputs_embedded"] > 0
    # STS: Spearman of cosine similarities, recomputed here from Embedder vectors.
    rows = [json.loads(x) for x in (small_data / "sentence/en_STSB.jsonl").read_text().splitlines()]
    emb = reba.Embedder(lm, method="reba", k=2)
    a, b = emb.encode([r["s1"] for r in rows]), emb.encode([r["s2"] for r in rows])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    want = spearmanr(cos, [r["score"] for r in rows]).statistic
    got = row(doc, "sentence", "reba-2")["scores"]["en_STSB"]
    assert got["metric"] == "cosine_spearman" and got["value"] == pytest.approx(want, abs=1e-6)
    # Odd one out, distance predictor: centred vectors, largest norm.
    rows = [json.loads(x) for x in (small_data / "word/zh_SLPWC.jsonl").read_text().splitlines()]
    wemb = reba.Embedder(lm, method="reba", k=2)
    right = 0
    for r in rows:
        v = wemb.encode_words([(s, r["word"]) for s in r["sentences"]]).astype(np.float64)
        right += int(np.argmax(np.linalg.norm(v - v.mean(0), axis=1)) == r["answer"])
    got = row(doc, "word", "reba-2")["scores"]["zh_SLPWC"]
    assert got["extra"]["accuracy_distance"] == pytest.approx(right / len(rows))


def test_second_run_embeds_nothing_and_gives_the_same_scores(lm, small_data, tmp_path):
    sweep = Sweep(methods=("mean", "echo", "reba"), ks=(1, 2))
    first = run_sweep(lm, ["zh_WSD", "zh_ATEC"], small_data, sweep, cache_path=tmp_path / "c")
    second = run_sweep(lm, ["zh_WSD", "zh_ATEC"], small_data, sweep, cache_path=tmp_path / "c")
    assert first["timings"]["word_inputs_embedded"] > 0
    assert second["timings"]["word_inputs_embedded"] == 0
    assert second["timings"]["sentence_inputs_embedded"] == 0

    def values(doc):
        return [{t: (s["value"], s["extra"]) for t, s in r["scores"].items()} for r in doc["rows"]]

    assert values(first) == values(second)


def test_a_new_vectors_revision_reads_an_equivalent_earlier_ones_cache(
    lm, small_data, tmp_path, monkeypatch
):
    """Vectors cached under a revision declared equivalent are carried forward (nothing is
    embedded, same scores); under a revision not declared so, everything is embedded again."""
    import reba._version as version

    sweep = Sweep(methods=("mean", "reba"), ks=(2,))
    args = (lm, ["zh_ATEC"], small_data, sweep)
    first = run_sweep(*args, cache_path=tmp_path / "c")
    monkeypatch.setattr(version, "EQUIVALENT_REVISIONS", (version.VECTORS_REVISION,))
    monkeypatch.setattr(version, "VECTORS_REVISION", "99.0.0")
    carried = run_sweep(*args, cache_path=tmp_path / "c")
    assert carried["timings"]["sentence_inputs_embedded"] == 0
    assert carried["vectors_revision"] == "99.0.0"
    again = run_sweep(*args, cache_path=tmp_path / "c")  # now under its own keys
    assert again["timings"]["sentence_inputs_embedded"] == 0
    monkeypatch.setattr(version, "EQUIVALENT_REVISIONS", ())
    monkeypatch.setattr(version, "VECTORS_REVISION", "100.0.0")
    fresh = run_sweep(*args, cache_path=tmp_path / "c")
    assert (
        fresh["timings"]["sentence_inputs_embedded"]
        == first["timings"]["sentence_inputs_embedded"]
        > 0
    )

    def values(doc):
        return [{t: s["value"] for t, s in r["scores"].items()} for r in doc["rows"]]

    assert values(first) == values(carried) == values(again) == values(fresh)


def test_every_task_type_runs_through_the_cli_and_report_regenerates(small_data, tmp_path):
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "--model",
            "tiny-random-llama",
            "--methods",
            "mean,reba",
            "--k",
            "1-2",
            "--data",
            str(small_data),
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "c.sqlite"),
            "--quiet",
        ]
    )
    assert code == 0
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["tasks"]) == set(json.loads(json.dumps(doc["tasks"])))  # plain JSON
    assert len(doc["tasks"]) == 23 and all(len(r["scores"]) for r in doc["rows"])
    assert all(len(info["files"]) >= 1 for info in doc["tasks"].values())
    table = (out / "results.md").read_text()
    assert "| configuration |" in table and "**" in table
    (out / "results.md").unlink()
    (out / "word.png").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "results.md").read_text() == table
    assert (out / "word.png").stat().st_size > 10_000 and (out / "sentence.png").exists()


def test_unknown_task_is_a_clear_error(lm, small_data, tmp_path):
    with pytest.raises(KeyError, match="unknown task 'zh_NOPE'"):
        run_sweep(lm, ["zh_NOPE"], small_data, Sweep(("mean",)), cache_path=tmp_path / "c")


def test_failed_inputs_are_cached_with_their_reason_and_skipped(lm, small_data, tmp_path):
    doc = run_sweep(
        lm,
        ["en_STSB"],
        small_data,
        Sweep(("reba",), ks=(3,)),
        max_length=12,
        cache_path=tmp_path / "c.sqlite",
    )
    score = doc["rows"][0]["scores"]["en_STSB"]
    assert score["n_items"] == ROWS_PER_FILE and score["n_scored"] == ROWS_PER_FILE
    assert EmbeddingConfig("reba", 3).label() == doc["rows"][0]["label"]


def test_a_set_of_ones_own_is_scored_as_the_readme_says(tmp_path):
    """A new English STS set, laid out from the README alone, scored with a prompt preset and a
    combination; the Spearman recomputed from the naive reference's vectors."""
    pairs = [
        ("A cat sleeps on the sofa.", "A cat is asleep on the couch.", 4.8),
        ("The train left early.", "The train departed ahead of time.", 4.5),
        ("He paints the fence.", "She reads a novel.", 0.2),
        ("Kids play football outside.", "Children are playing soccer outdoors.", 4.6),
        ("The soup is too salty.", "The market opens at nine.", 0.0),
        ("A man rides a bike.", "A man is riding a horse.", 2.1),
        ("Stocks fell sharply today.", "Share prices dropped a lot today.", 4.4),
    ]
    folder = tmp_path / "my_folder"
    folder.mkdir()
    (folder / "manifest.json").write_text(code_block("**Your own sets.**", "json"))
    lines = [json.dumps({"s1": a, "s2": b, "score": y}) for a, b, y in pairs]
    (folder / "my_sts.jsonl").write_text("\n".join(lines) + "\n")
    command = code_block("**Your own sets.**", "bash").splitlines()[-1].split()
    assert command[:2] == ["reba", "eval"] and "--tasks" in command
    args = command[2:]
    args[args.index("--model") + 1] = "tiny-random-llama"
    args[args.index("--methods") + 1] = "pcot,pcot+reba"
    args[args.index("--data") + 1] = str(folder)
    args[args.index("--out") + 1] = str(tmp_path / "out")
    assert main(["eval", *args, "--cache", str(tmp_path / "c.sqlite"), "--quiet"]) == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    lm = reba.load_model("tiny-random-llama", device="cpu")
    model, tokenizer = lm.model, lm.tokenizer
    for name in ("pcot", "pcot+reba"):
        a, b = (
            np.stack([R.preset(model, tokenizer, name, p[i]).numpy() for p in pairs])
            for i in (0, 1)
        )
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        want = spearmanr(cos, [p[2] for p in pairs]).statistic
        got = row(doc, "sentence", name)["scores"]["my_sts"]
        assert got["n_scored"] == len(pairs) and got["value"] == pytest.approx(want, abs=1e-9)


def test_eval_config_evaluates_exactly_that_configuration(tiny_dir, small_data, tmp_path):
    config = reba.EmbedderConfig(str(tiny_dir), "echo", k=3, layer=-2, dtype="float32")
    path = config.save(tmp_path / "echo.json")
    args = ["eval", "--config", str(path), "--data", str(small_data), "--tasks", "en_STSB"]
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet", "--device", "cpu"]) == 0
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [(r["level"], r["label"]) for r in doc["rows"]] == [("sentence", "echo-3/L-2")]
    assert main([*args, "--out", str(tmp_path / "o2"), "--methods", "mean"]) == 2


def test_eval_without_methods_runs_the_leading_grid_at_k2(small_data, tmp_path):
    from reba.eval.grids import GRIDS

    out = tmp_path / "run"
    args = ["eval", "--model", "tiny-random-llama", "--data", str(small_data), "--quiet"]
    args += ["--tasks", "en_STSB", "--out", str(out), "--cache", str(tmp_path / "c")]
    assert main(args) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["sweep"]["methods"] == list(GRIDS["leading"]) and doc["sweep"]["ks"] == [2]
    repeats = {"echo", "reba"}
    assert [(r["config"]["method"], r["config"]["k"]) for r in doc["rows"]] == [
        (m, 2 if m in repeats else 1) for m in GRIDS["leading"]
    ]
