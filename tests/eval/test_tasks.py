"""Task specs from the manifest, loading and validation of the JSONL files."""

import hashlib
import json
import os
from pathlib import Path

import pytest

from reba.eval import (
    EVALUATORS,
    TASK_TYPES,
    TaskDataError,
    UnknownTaskError,
    load_task,
    load_task_specs,
)

DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)

EXPECTED_TYPES = {
    "zh_SLPWC": "word_odd_one_out",
    "zh_WSD": "word_odd_one_out",
    "en_WiC_dev": "wic",
    "zh_ATEC": "sts",
    "zh_BQ": "sts",
    "zh_LCQMC": "sts",
    "zh_STSB": "sts",
    "zh_PAWSX": "sts",
    "zh_QBQTC": "sts",
    "zh_Cmnli": "pair_classification",
    "zh_Ocnli": "pair_classification",
    "zh_tnews": "classification",
    "zh_iflytek": "classification",
    "zh_eprstmt": "classification",
    "zh_Waimai": "classification",
    "zh_OnlineShopping": "classification",
    "zh_CSLDCP": "clustering",
    "zh_CMRC": "retrieval",
    "en_STSB": "sts",
    "en_SICKR": "sts",
    "en_MRPC": "pair_classification",
    "en_Banking77": "classification",
    "en_TRECQA": "reranking",
}


def test_every_task_type_has_an_evaluator():
    assert set(EVALUATORS) == set(TASK_TYPES)


def test_task_specs_from_manifest():
    specs = load_task_specs(DATA_DIR)
    assert {name: spec.type for name, spec in specs.items()} == EXPECTED_TYPES
    tnews = specs["zh_tnews"]
    assert tnews.files == ("sentence/zh_tnews_train.jsonl", "sentence/zh_tnews_test.jsonl")
    assert tnews.roles == ("train", "test")
    assert (tnews.lang, tnews.level) == ("zh", "sentence")
    assert specs["zh_CMRC"].roles == ("corpus", "queries")
    assert specs["en_WiC_dev"].level == "word"
    assert specs["en_WiC_dev"].files == ("word/en_WiC_dev.jsonl",)
    assert specs["zh_SLPWC"].source.startswith("cqdyf099/ReBA@")


def test_every_manifest_file_belongs_to_exactly_one_task():
    manifest = json.loads((DATA_DIR / "manifest.json").read_text(encoding="utf-8"))
    files = [f for spec in load_task_specs(DATA_DIR).values() for f in spec.files]
    assert sorted(files) == sorted(entry["file"] for entry in manifest)


def test_load_task_rows_and_sha256():
    task = load_task(DATA_DIR, "zh_SLPWC")
    assert task.name == "zh_SLPWC"
    assert len(task.rows["data"]) == 300
    path = DATA_DIR / "word" / "zh_SLPWC.jsonl"
    assert task.sha256 == {"word/zh_SLPWC.jsonl": hashlib.sha256(path.read_bytes()).hexdigest()}
    tnews = load_task(DATA_DIR, "zh_tnews")
    assert (len(tnews.rows["train"]), len(tnews.rows["test"])) == (1185, 1000)
    assert len(tnews.sha256) == 2


def test_unknown_task_lists_available_ones():
    with pytest.raises(UnknownTaskError, match=r"unknown task 'zh_nope'; available: .*zh_SLPWC"):
        load_task(DATA_DIR, "zh_nope")


def _write_task(tmp_path: Path, entries: list[dict], files: dict[str, str]) -> Path:
    (tmp_path / "manifest.json").write_text(json.dumps(entries), encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _sts_entry(file: str = "x_sts.jsonl") -> dict:
    return {"file": file, "task": "sts", "lang": "en", "metric": "spearman"}


GOOD = '{"s1": "a", "s2": "b", "score": 1}'
NO_SCORE = '{"s1": "a", "s2": "b"}'


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (GOOD + "\n" + NO_SCORE[:-1], r"x_sts.jsonl:2: invalid JSON"),
        (GOOD + "\n\n" + NO_SCORE, r"x_sts.jsonl:3: missing field 'score'"),
        (GOOD.replace(": 1}", ': "high"}'), r":1: field 'score' must be a number, got \"high\""),
        ('["a", "b", 1]', r":1: expected a JSON object, got list"),
        ("", r"x_sts.jsonl: no rows"),
    ],
)
def test_malformed_line_names_file_line_and_problem(tmp_path, lines, message):
    data_dir = _write_task(tmp_path, [_sts_entry()], {"x_sts.jsonl": lines})
    with pytest.raises(TaskDataError, match=message):
        load_task(data_dir, "x_sts")


def test_wic_span_past_the_text_is_reported(tmp_path):
    row = {"word": "a", "s1": "a b", "s2": "b a", "span1": [0, 1], "span2": [2, 9], "label": 1}
    entry = {"file": "w.jsonl", "task": "wic", "lang": "en", "metric": "accuracy"}
    data_dir = _write_task(tmp_path, [entry], {"w.jsonl": json.dumps(row)})
    with pytest.raises(TaskDataError, match=r"w.jsonl:1: span2 \[2, 9\] goes past the end of s2"):
        load_task(data_dir, "w")


def test_manifest_problems(tmp_path):
    bad_type = {**_sts_entry(), "task": "translation"}
    _write_task(tmp_path, [bad_type], {})
    with pytest.raises(TaskDataError, match=r"unknown task type 'translation'; known: .*sts"):
        load_task_specs(tmp_path)
    train_only = {**_sts_entry("c_train.jsonl"), "task": "classification"}
    _write_task(tmp_path, [train_only], {})
    with pytest.raises(TaskDataError, match=r"task 'c' needs files for roles train, test"):
        load_task_specs(tmp_path)
    no_role = {**_sts_entry("c.jsonl"), "task": "classification"}
    _write_task(tmp_path, [no_role], {})
    with pytest.raises(TaskDataError, match=r"c.jsonl \(classification\) must end with one of"):
        load_task_specs(tmp_path)
