"""``reba tune`` on the tiny model: the written configuration is the argmax of dev scores
computed here independently, it loads, and the label-free path chooses by its criterion."""

import json
import math

import numpy as np
import pytest
import torch
from corpora import texts as random_texts
from scipy.stats import spearmanr
from serve.processes import serve_process

import reba
from reba.cli.main import main
from reba.config import EmbedderConfig
from reba.eval import metrics
from reba.eval.augment import random_deletion
from reba.eval.tasks import file_task
from reba.tune import Budget, Grid, search, tune
from reba.tune.data import n_inputs, within_budget

GRID = Grid(methods=("mean", "reba", "prompteol"), ks=(1, 2), layers=(None, -3))
CANDIDATES = [  # (method, k, layer) of GRID on a 6-layer model: the own layer and -3
    ("mean", 1, -1), ("mean", 1, -3), ("reba", 1, -1), ("reba", 1, -3), ("reba", 2, -1),
    ("reba", 2, -3), ("prompteol", 1, -1), ("prompteol", 1, -3),
]  # fmt: skip


@pytest.fixture(scope="module")
def lm():
    from tiny_models import make_model

    return reba.wrap_model(*make_model("llama"), name="tiny-llama")


def sts_rows(n: int = 32) -> list[dict]:
    """Pairs of random texts, the second sharing words with the first by a seeded amount;
    the score is that amount, so similarity can track it."""
    rng = np.random.default_rng(1)
    firsts, others = random_texts(n, seed=2), random_texts(n, seed=3)
    rows = []
    for a, b in zip(firsts, others):
        keep = int(rng.integers(0, 5))
        words = a.split()[:keep] + b.split()
        rows.append({"s1": a, "s2": " ".join(words), "score": keep})
    return rows


def halves(rows: list) -> tuple[list, list]:
    """reba.eval.splits' rule, restated: rows in pairs, alternately dev and test."""
    dev = [r for i, r in enumerate(rows) if (i // 2) % 2 == 0]
    return dev, [r for i, r in enumerate(rows) if (i // 2) % 2 == 1]


def spearman_of(lm, method, k, layer, rows) -> float:
    emb = reba.Embedder(lm, method=method, k=k, layer=layer)
    a, b = emb.encode([r["s1"] for r in rows]), emb.encode([r["s2"] for r in rows])
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return spearmanr(cos, [r["score"] for r in rows]).statistic


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One embedding cache for the module: each test reuses what another embedded."""
    return tmp_path_factory.mktemp("cache") / "embeddings.sqlite"


@pytest.fixture(scope="module")
def sts_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "my_sts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in sts_rows()), encoding="utf-8")
    return path


def test_labelled_choice_is_the_dev_argmax_and_its_file_loads(lm, sts_file, cache, tmp_path):
    out = tmp_path / "best.json"
    config, doc, files = tune(
        lm, [file_task(sts_file, "sts")], out, grid=GRID, bootstrap=50, cost_texts=4,
        cache_path=cache,
    )  # fmt: skip
    dev, test = halves(sts_rows())
    on_dev = {c: spearman_of(lm, *c, dev) for c in CANDIDATES}
    best = max(on_dev, key=on_dev.get)
    assert sorted(on_dev.values())[-1] > sorted(on_dev.values())[-2] + 1e-6  # a clear winner
    method, k, layer = best
    own = reba.Embedder(lm, method=method, k=k).layer
    assert (config.method, config.k, config.layer) == (method, k, None if layer == own else layer)
    assert doc["winner"]["dev"] == pytest.approx(on_dev[best], abs=1e-4)
    assert doc["winner"]["test"] == pytest.approx(spearman_of(lm, *best, test), abs=1e-4)
    assert doc["winner"]["se"] > 0 and doc["winner"]["cost"]["texts_per_second"] > 0
    got = {
        (c["config"]["method"], c["config"]["k"], c["layer"]): c["dev"] for c in doc["candidates"]
    }
    assert got == pytest.approx({c: round(v, 4) for c, v in on_dev.items()}, abs=1e-4)
    # The file loads, and embeds as the winner does.
    assert EmbedderConfig.load(out) == config and config.dtype == "float32"
    texts = [r["s1"] for r in dev[:3]]
    loaded = reba.Embedder.from_config(out, model=lm).encode(texts)
    np.testing.assert_allclose(
        loaded, reba.Embedder(lm, method=method, k=k, layer=layer).encode(texts)
    )
    assert [f.name for f in files] == ["best.json", "best.tune.json", "best.tune.md"]
    table = files[-1].read_text()
    assert f"**Winner: {doc['winner']['label']}**" in table and table.count("\n| ") == 1 + 8


def neg_align_uniform(vectors: np.ndarray, views: np.ndarray) -> float:
    """Wang & Isola's two losses written out with loops (alpha = 2, t = 2)."""
    unit = [v / np.linalg.norm(v) for v in vectors]
    view = [v / np.linalg.norm(v) for v in views]
    align = np.mean([np.sum((a - b) ** 2) for a, b in zip(unit, view)])
    pairs = [
        math.exp(-2 * np.sum((unit[i] - unit[j]) ** 2))
        for i in range(len(unit))
        for j in range(i + 1, len(unit))
    ]
    return -(align + math.log(np.mean(pairs)))


def test_alignment_and_uniformity_match_the_authors_torch_code():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    xt = torch.nn.functional.normalize(torch.tensor(x), dim=-1)
    yt = torch.nn.functional.normalize(torch.tensor(y), dim=-1)
    align = (xt - yt).norm(p=2, dim=1).pow(2).mean().item()  # github.com/SsnL/align_uniform
    uniform = torch.pdist(xt, p=2).pow(2).mul(-2).exp().mean().log().item()
    assert metrics.alignment(x, y) == pytest.approx(align, rel=1e-9)
    assert metrics.uniformity(x) == pytest.approx(uniform, rel=1e-9)
    assert metrics.uniformity(x * 1e3) == pytest.approx(uniform, rel=1e-9)  # scale-free


def test_random_deletion_is_eda_seeded_by_the_text():
    text = "the quick brown fox jumps over the lazy dog near the river bank today"
    view = random_deletion(text)
    assert view == random_deletion(text)  # a text always gets the same view
    words = view.split()
    assert 0 < len(words) <= len(text.split()) and all(w in text.split() for w in words)
    assert random_deletion(text, p=0.0) == text
    assert random_deletion(text, p=1.0) in text.split()  # none left: one random word kept
    chinese = "我们去银行取钱然后去河边散步"
    assert set(random_deletion(chinese, p=0.5)) <= set(chinese)  # by character


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The tiny model of ``lm`` saved as a folder, for the command line."""
    from tiny_models import make_model

    model, tokenizer = make_model("llama")
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def assert_chosen_by(doc: dict, want: dict, score: str) -> dict:
    """Every candidate's ``score`` in the report equals ``want`` (method, k, layer -> value,
    computed here), and the winner is the argmax of ``want``; returns the winner."""
    got = {
        (c["config"]["method"], c["config"]["k"], c["layer"]): c[score] for c in doc["candidates"]
    }
    assert got == pytest.approx({c: round(v, 4) for c, v in want.items()}, abs=2e-4)
    winner = doc["winner"]
    chosen = (winner["config"]["method"], winner["config"]["k"], winner["layer"])
    assert chosen == max(want, key=want.get)
    return winner


def test_unlabelled_choice_is_the_argmax_of_the_criterion(lm, model_dir, tmp_path):
    texts = random_texts(24, seed=5)
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "free.json"
    assert main([
        "tune", "--model", str(model_dir), "--dtype", "float32", "--texts",
        str(tmp_path / "texts.txt"), "--out", str(out), "--methods", "mean,reba", "-k", "1,2",
        "--layers", "own,-3", "--cost", "4", "--cache", str(tmp_path / "c.sqlite"), "--quiet",
    ]) == 0  # fmt: skip
    doc = json.loads((tmp_path / "free.tune.json").read_text())
    dev, test = halves(texts)
    want = {}
    for method, k, layer in [c for c in CANDIDATES if c[0] != "prompteol"]:
        emb = reba.Embedder(lm, method=method, k=k, layer=layer)
        views = emb.encode([random_deletion(t) for t in dev])
        want[(method, k, layer)] = neg_align_uniform(emb.encode(dev), views)
    winner = assert_chosen_by(doc, want, "dev")
    method, k, layer = max(want, key=want.get)
    emb = reba.Embedder(lm, method=method, k=k, layer=layer)
    on_test = neg_align_uniform(emb.encode(test), emb.encode([random_deletion(t) for t in test]))
    assert winner["test"] == pytest.approx(on_test, abs=2e-4) and winner["se"] is None
    config = EmbedderConfig.load(out)
    assert config.model == str(model_dir) and (config.method, config.k) == (method, k)
    loaded = reba.Embedder.from_config(out)  # loads the model by the name the user gave
    np.testing.assert_allclose(loaded.encode(test[:2]), emb.encode(test[:2]), atol=1e-5)


def test_label_free_on_labelled_data_reports_both_choices(lm, sts_file, cache, tmp_path):
    _, doc, files = tune(
        lm, [file_task(sts_file, "sts")], tmp_path / "free.json", grid=GRID, label_free=True,
        bootstrap=50, cost_texts=0, cache_path=cache,
    )  # fmt: skip
    winner, labelled = doc["winner"], doc["labelled_choice"]
    assert doc["criterion"] == "label-free"
    assert winner["free_dev"] == max(c["free_dev"] for c in doc["candidates"])
    assert labelled["dev"] == max(c["dev"] for c in doc["candidates"])
    diff = doc["label_free_minus_labelled"]
    assert diff["test"] == pytest.approx(winner["test"] - labelled["test"], abs=2e-4)
    assert "The labelled choice would be" in files[-1].read_text()


def test_time_budget_keeps_the_best_so_far_and_says_so(lm, sts_file, cache):
    ticks = iter(range(0, 10_000, 30))  # every reading of the clock: 30 s later
    outcome = search(
        lm, [file_task(sts_file, "sts")], GRID, Budget(minutes=2), bootstrap=0,
        cache_path=cache, clock=lambda: next(ticks),
    )  # fmt: skip
    # Stages: mean and reba read the same repeated text (one forward), prompteol its prompt.
    assert outcome.searched == ["mean", "reba"] and outcome.skipped == ["prompteol"]
    assert outcome.budget_hit and outcome.winner.config.method in ("mean", "reba")
    assert {c.config.method for c in outcome.candidates} == {"mean", "reba"}


def test_text_budget_samples_each_task_down_to_its_share(sts_file):
    task = file_task(sts_file, "sts")
    assert n_inputs(task) == 64
    (cut,) = within_budget([task], 30)
    assert 24 <= n_inputs(cut) <= 30
    with pytest.raises(ValueError, match="more than its share"):
        within_budget([task], 1)


def test_bad_inputs_are_named(tmp_path, sts_file):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"s1": "a", "s2": "b", "score": 1}\n{"s1": "a", "score": 2}\n')
    assert (
        main(["tune", "--data", str(bad), "--type", "sts", "--out", str(tmp_path / "x.json")]) == 2
    )
    assert main(["tune", "--data", str(sts_file), "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_readme_tune_path_runs_as_written(tmp_path, monkeypatch, cache):
    """The README's `reba tune` command on a set laid out from "Your own sets" (tiny model,
    smaller grid), then its `reba serve --config` line as a real process queried with the
    openai client, and its Python block: all three give the winner's vectors."""
    import openai
    from readme import code_block

    folder = tmp_path / "my_folder"
    folder.mkdir()
    (folder / "manifest.json").write_text(code_block("**Your own sets.**", "json"))
    (folder / "my_sts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sts_rows(16)))
    tune_line, serve_line = code_block("### Choosing a configuration", "bash").splitlines()
    command = tune_line.split()
    assert command[:2] == ["reba", "tune"]
    args = command[2:]
    args[args.index("--model") + 1] = "tiny-random-llama"
    monkeypatch.chdir(tmp_path)  # --data my_folder, --out best.json: relative, as written
    extra = ["--methods", "mean,reba", "-k", "1,2", "--layers", "own", "--cost", "4"]
    assert main(["tune", *args, *extra, "--bootstrap", "20", "--cache", str(cache), "--quiet"]) == 0
    winner = json.loads((tmp_path / "best.tune.json").read_text())["winner"]["config"]
    texts = ["A cat sleeps on the sofa.", "我们去银行取钱。"]
    lm = reba.load_model("tiny-random-llama", device="cpu")
    want = reba.Embedder(lm, method=winner["method"], k=winner["k"]).encode(texts)

    namespace = {}
    exec(code_block("### Choosing a configuration", "python"), namespace)
    emb = namespace["emb"]
    assert (emb.method, emb.k, emb.config.model) == (
        winner["method"],
        winner["k"],
        "tiny-random-llama",
    )
    np.testing.assert_allclose(emb.encode(texts), want, atol=1e-6)

    serve = serve_line.split("#")[0].split()
    assert serve[:2] == ["reba", "serve"]
    with serve_process(serve[2:], tmp_path / "server.log") as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        response = client.embeddings.create(model="best", input=texts, encoding_format="float")
    np.testing.assert_allclose([d.embedding for d in response.data], want, atol=1e-5)


def entropy_by_eigenvalues(vectors: np.ndarray) -> float:
    """Skean et al.'s dataset entropy restated: rows centred then unit length, the Gram
    matrix's eigenvalues over its trace, Shannon entropy over log(min(N, D))."""
    z = vectors - vectors.mean(axis=0)
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    eig = np.clip(np.linalg.eigvalsh(z @ z.T), 0, None)
    p = eig[eig > 1e-12 * eig.max()] / eig.sum()
    return float(-(p * np.log(p)).sum() / math.log(min(z.shape)))


@pytest.mark.parametrize("criterion", ["entropy", "twonn"])
def test_label_free_choice_by_a_layer_criterion(lm, sts_file, cache, tmp_path, criterion):
    """``--label-free --criterion entropy|twonn``: each candidate's label-free score is the
    criterion on the vectors of the dev half's distinct texts; the winner is its argmax."""
    from reba.eval.intrinsic import twonn

    _, doc, files = tune(
        lm, [file_task(sts_file, "sts")], tmp_path / "c.json", grid=GRID, label_free=True,
        criterion=criterion, bootstrap=50, cost_texts=0, cache_path=cache,
    )  # fmt: skip
    assert doc["criterion"] == "label-free" and doc["free_criterion"] == criterion
    dev, _ = halves(sts_rows())
    texts = list(dict.fromkeys(t for r in dev for t in (r["s1"], r["s2"])))
    want = {}
    for method, k, layer in CANDIDATES:
        vectors = reba.Embedder(lm, method=method, k=k, layer=layer).encode(texts)
        vectors = vectors.astype(np.float64)
        want[(method, k, layer)] = (
            entropy_by_eigenvalues(vectors) if criterion == "entropy" else -twonn(vectors, 0.1)
        )
    assert_chosen_by(doc, want, "free_dev")
    assert "The labelled choice would be" in files[-1].read_text()
    assert ("entropy" if criterion == "entropy" else "TwoNN") in files[-1].read_text()


def test_texts_by_twonn_and_a_criterion_without_label_free_refused(model_dir, tmp_path, capsys):
    (tmp_path / "texts.txt").write_text("\n".join(random_texts(24, seed=5)) + "\n")
    common = [
        "tune", "--model", str(model_dir), "--dtype", "float32", "--methods", "mean,reba",
        "-k", "1", "--layers", "own,-3", "--cost", "0", "--cache", str(tmp_path / "c.sqlite"),
        "--quiet", "--criterion", "twonn",
    ]  # fmt: skip
    out = tmp_path / "free.json"
    assert main([*common, "--texts", str(tmp_path / "texts.txt"), "--out", str(out)]) == 0
    doc = json.loads((tmp_path / "free.tune.json").read_text())
    assert doc["free_criterion"] == "twonn" and "labelled_choice" not in doc
    assert doc["winner"]["free_dev"] == max(c["free_dev"] for c in doc["candidates"])
    assert main([*common, "--data", str(tmp_path / "texts.txt"), "--type", "sts", "--out",
                 str(tmp_path / "x.json")]) == 2  # fmt: skip
    assert "--criterion twonn chooses without labels: add --label-free" in capsys.readouterr().err


def test_the_default_grid_searches_every_leading_method(sts_file, tmp_path):
    from reba.eval.grids import GRIDS
    from reba.tune import DEFAULT_METHODS

    assert GRIDS["leading"] == DEFAULT_METHODS  # one list: reba eval's default and tune's
    lm = reba.load_model("tiny-random-llama", device="cpu")  # with its LM head (EmbedFilter)
    config, doc, _ = tune(
        lm, [file_task(sts_file, "sts")], tmp_path / "best.json",
        grid=Grid(ks=(2,), layers=(None,)), bootstrap=20, cost_texts=2,
        cache_path=tmp_path / "c.sqlite",
    )  # fmt: skip
    methods = {c["config"]["method"] for c in doc["candidates"]}
    assert methods == set(DEFAULT_METHODS)
    assert doc["winner"]["dev"] == max(c["dev"] for c in doc["candidates"])
    assert config.method in methods
