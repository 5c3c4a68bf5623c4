"""The Markdown report from a hand-built results document."""

from reba.eval.report import markdown


def _row(method: str, k: int, scores: dict[str, float]) -> dict:
    config = {"method": method, "k": k, "layer": -1, "include_prefix": False}
    return {
        "config": config,
        "level": "sentence",
        "scores": {
            task: {
                "metric": "m",
                "value": v,
                "extra": {},
                "n_items": 2,
                "n_scored": 2,
                "n_skipped": 0,
            }
            for task, v in scores.items()
        },
    }


def _doc(rows: list[dict]) -> dict:
    def info(kind: str, lang: str) -> dict:
        return {"type": kind, "level": "sentence", "lang": lang, "metric": "m", "files": {}}

    return {
        "model": "m",
        "reba_version": "0",
        "created": "now",
        "data_dir": "d",
        "tasks": {"a": info("sts", "zh"), "b": info("sts", "en"), "c": info("retrieval", "zh")},
        "rows": rows,
    }


def test_sentence_averages_by_type_language_and_overall():
    rows = [
        _row("mean", 1, {"a": 0.2, "b": 0.4, "c": 0.9}),
        _row("reba", 2, {"a": 0.6, "b": 0.8, "c": 0.3}),
    ]
    text = markdown(_doc(rows))
    head = "| configuration | sts (2) | retrieval (1) | all zh (2) | all en (1) | all (3) |"
    assert head in text
    assert "| mean | 0.3000 | **0.9000** | **0.5500** | 0.4000 | 0.5000 |" in text
    assert "| reba-2 | **0.7000** | 0.3000 | 0.4500 | **0.8000** | **0.5667** |" in text


def test_a_row_missing_a_task_has_no_average():
    rows = [_row("mean", 1, {"a": 0.2, "b": 0.4}), _row("reba", 2, {"a": 0.6, "b": 0.8, "c": 0.3})]
    text = markdown(_doc(rows))
    assert "| mean | 0.3000 | – | – | 0.4000 | – |" in text


def test_a_word_task_with_two_predictor_columns_counts_once_in_averages():
    from reba.eval.report import averages

    def word(kind: str) -> dict:
        return {"type": kind, "level": "word", "lang": "zh", "metric": "m", "files": {}}

    row = _row("reba", 2, {"odd": 0.6, "wic": 0.9})
    row["level"] = "word"
    row["scores"]["odd"]["extra"] = {"cosine": 0.5}
    doc = _doc([row]) | {"tasks": {"odd": word("word_odd_one_out"), "wic": word("wic")}}
    assert averages(doc, "word")["reba-2"]["all"] == (0.6 + 0.9) / 2
