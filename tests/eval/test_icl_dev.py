"""In-context PromptEOL's demonstration chosen on the dev half of a small synthetic STS task:
the choice maximises the dev score recomputed here from Embedder vectors, and the reported
score is the test half's at that choice."""

import hashlib
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

import reba
from reba.eval import splits
from reba.eval.runner import Sweep, run_sweep
from reba.eval.tasks import load_task
from reba.inputs.demonstrations import load_pool

DEMOS = (3, 9, 16, 27)  # lines of reba's pool
PAIRS = [
    ("A man is playing a guitar.", "A man plays the guitar.", 5.0),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.5),
    ("The bank raised interest rates.", "Interest rates went up at the bank.", 4.5),
    ("A woman is slicing an onion.", "Someone cuts an onion.", 4.0),
    ("Two men are playing chess.", "A child is swimming.", 0.0),
    ("The train left the station.", "A train departed.", 4.2),
    ("A bird sits on a gate.", "A bird is perched on a metal gate.", 4.8),
    ("He is cooking dinner.", "The stock market fell today.", 0.2),
    ("A girl is flying a kite.", "A kid flies a kite on the beach.", 3.9),
    ("The cat chased the mouse.", "A mouse was chased by a cat.", 4.9),
    ("It is raining heavily.", "The weather is sunny and dry.", 1.0),
    ("A horse stands in a field.", "A brown horse in a green field.", 4.1),
    ("She is reading a book.", "A plane lands at the airport.", 0.1),
    ("They are dancing at a party.", "People dance at a celebration.", 4.3),
    ("The man rides a motorcycle.", "A man is riding a motorbike down the road.", 4.6),
    ("A boy fell off his bike.", "The committee approved the budget.", 0.3),
]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    (folder / "sentence").mkdir()
    lines = [json.dumps({"s1": a, "s2": b, "score": s}) for a, b, s in PAIRS]
    (folder / "sentence" / "en_toy.jsonl").write_text("\n".join(lines) + "\n")
    entry = {
        "file": "sentence/en_toy.jsonl", "task": "sts", "lang": "en",
        "metric": "spearman(cosine)", "rows": len(PAIRS), "of": len(PAIRS),
        "source": "synthetic", "paths": [], "note": "",
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps([entry]))
    return folder


@pytest.fixture(scope="module")
def lm():
    from tiny_models import make_model

    return reba.wrap_model(*make_model("qwen2"), name="tiny-qwen2")


def test_dev_half_chooses_the_demonstration(lm, toy, tmp_path):
    sweep = Sweep(("prompteol-icl",), dev=True, dev_demos=DEMOS)
    doc = run_sweep(lm, ["en_toy"], toy, sweep, cache_path=tmp_path / "c.sqlite")
    fixed = next(r for r in doc["rows"] if r.get("selection") == "fixed")
    dev_row = next(r for r in doc["rows"] if r.get("selection") == "dev")
    assert dev_row["label"] == "prompteol-icl @dev" and fixed["label"] == "prompteol-icl"
    assert dev_row["config"]["method"] == "prompteol-icl"
    task = load_task(toy, "en_toy")

    def sts(rows, demo):
        name = f"prompteol+icl[demo={demo}]" if demo else "prompteol-icl"
        emb = reba.Embedder(lm, method=name)
        a, b = emb.encode([r["s1"] for r in rows]), emb.encode([r["s2"] for r in rows])
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        return spearmanr(cos, [r["score"] for r in rows]).statistic

    dev, test = (splits.split(task, p).rows["data"] for p in ("dev", "test"))
    on_dev = {demo: sts(dev, demo) for demo in DEMOS}
    assert len({round(v, 6) for v in on_dev.values()}) > 1  # the choice matters here
    chosen = dev_row["chosen"]["en_toy"]
    assert chosen["demo"] == max(on_dev, key=on_dev.get)
    assert chosen["dev"] == pytest.approx(on_dev[chosen["demo"]], abs=1e-6)
    assert chosen["layer"] == -1
    got = dev_row["scores"]["en_toy"]["value"]
    assert got == pytest.approx(sts(test, chosen["demo"]), abs=1e-6)
    assert chosen["pool_sha256"] == load_pool().sha256
    assert fixed["scores"]["en_toy"]["value"] == pytest.approx(sts(test, 0), abs=1e-6)


LINES = [
    'This_sentence_:_"A_kettle_whistles_on_the_stove."_means_in_one_word:"Boiling".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
    'This_sentence_:_"Two_dogs_chase_a_ball."_means_in_one_word:"Play".This_sentence_:_"*sent_0*"_means_in_one_word:"',  # noqa: E501
]


def test_dev_demos_are_lines_of_the_pool_given(lm, toy, tmp_path):
    """A user's pool (icl[pool=PATH]): the candidates are its lines, the range its size."""
    path = tmp_path / "pool.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    method = f"prompteol-icl[pool={path}]"
    sweep = Sweep((method,), dev=True)  # no --dev-demos: the whole pool (2 lines)
    doc = run_sweep(lm, ["en_toy"], toy, sweep, cache_path=tmp_path / "c.sqlite")
    dev_row = next(r for r in doc["rows"] if r.get("selection") == "dev")
    chosen = dev_row["chosen"]["en_toy"]
    assert chosen["demo"] in (1, 2)
    assert chosen["pool_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="a line 1..2 of the pool"):
        run_sweep(lm, ["en_toy"], toy, Sweep((method,), dev=True, dev_demos=(1, 3)),
                  cache_path=tmp_path / "d.sqlite")  # fmt: skip
