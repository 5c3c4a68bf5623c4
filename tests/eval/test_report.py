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


def test_figures_sort_rows_keep_dev_apart_and_draw_error_bars(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from reba.eval.figures import _sorted_apart, figures
    from reba.eval.report import average_errors, averages

    rows = []
    for i, method in enumerate(["mean", "last", "ck", "metaeol", "pcot", "ke", "prompteol"]):
        for dev in (False, True):
            row = _row(method, 1, {t: 0.1 * i + 0.05 * dev for t in "abc"})
            for score in row["scores"].values():
                score["extra"] = {"se": 0.03}
            row["label"] = f"{method} @dev" if dev else method
            rows.append(row)
    doc = _doc(rows)
    own, dev = _sorted_apart(averages(doc, "sentence"))
    assert own == ["prompteol", "ke", "pcot", "metaeol", "ck", "last", "mean"]
    assert dev == [f"{m} @dev" for m in own]
    # three independent tasks of SE 0.03: the average's SE is 0.03 / sqrt(3)
    assert abs(average_errors(doc, "sentence")["ke"]["all"] - 0.03 / 3**0.5) < 1e-12
    written = {p.name for p in figures(doc, tmp_path)}
    assert {"heatmap-sentence.png", "leading-sentence.png"} <= written
