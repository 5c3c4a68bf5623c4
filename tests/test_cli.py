"""``reba embed`` and ``reba info`` as a user runs them."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import reba
from reba.cli.main import main
from reba.runners.summary import EXIT_ROWS_SKIPPED as SKIPPED

ROWS = [
    {"id": "a", "text": "The bank approved my loan."},
    {"id": "b", "text": ""},  # bad: empty
    {"id": "c", "text": "We sat on the river bank."},
    {"id": "d", "note": "no text field"},  # bad: missing field
    {"id": "e", "text": "A bat flew out of the cave."},
]
GOOD = [0, 2, 4]


def _args(inp, out, *extra):
    return [
        "embed",
        "--model",
        "smollm2-135m",
        "--method",
        "reba",
        "-k",
        "2",
        "--input",
        str(inp),
        "--output",
        str(out),
        "--quiet",
        *extra,
    ]


@pytest.fixture
def jsonl(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n{broken json\n")
    return path


@pytest.fixture(scope="module")
def expected(smollm2):
    texts = [ROWS[i]["text"] for i in GOOD]
    return reba.Embedder(smollm2, method="reba", k=2).encode(texts)


def test_jsonl_to_npy_skips_bad_rows_and_reports_them(jsonl, tmp_path, expected, capsys):
    out = tmp_path / "out.npy"
    assert main(_args(jsonl, out)) == SKIPPED
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)
    meta = json.loads((tmp_path / "out.npy.json").read_text())
    assert meta["method"] == "reba" and meta["k"] == 2 and meta["model"] == "smollm2-135m"
    assert meta["row_of_input"] == GOOD
    assert [f["row"] for f in meta["failures"]] == [1, 3, 5]
    err = capsys.readouterr().err
    assert "skipped row 1: text is empty" in err and "skipped row 3: no field 'text'" in err
    assert "skipped row 5: invalid JSON" in err
    assert "6 items, 3 embedded, 0 truncated, 3 failed" in err and "texts/s" in err


def test_packing_gives_the_same_embeddings(jsonl, tmp_path, expected):
    out = tmp_path / "packed.npy"
    assert main(_args(jsonl, out, "--packing")) == SKIPPED
    # Activations reach ~40 on these weights: other matrix shapes differ by a few float32 ulp.
    np.testing.assert_allclose(np.load(out), expected, atol=1e-4)


def test_jsonl_to_parquet_keeps_ids_and_config(jsonl, tmp_path, expected):
    out = tmp_path / "out.parquet"
    assert main(_args(jsonl, out)) == SKIPPED
    table = pq.read_table(out)
    assert table.column("id").to_pylist() == ["a", "c", "e"]
    np.testing.assert_allclose(np.array(table.column("embedding").to_pylist()), expected, atol=1e-5)
    meta = json.loads(table.schema.metadata[b"reba"])
    assert meta["k"] == 2 and meta["reba_version"] == reba.__version__


def test_txt_csv_parquet_inputs_and_jsonl_output(tmp_path, expected):
    texts = [ROWS[i]["text"] for i in GOOD]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    (tmp_path / "in.csv").write_text(
        "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(texts))
    )
    import pyarrow as pa

    pq.write_table(pa.table({"text": texts}), tmp_path / "in.parquet")
    for name in ("in.txt", "in.csv", "in.parquet"):
        out = tmp_path / f"{name}.jsonl"
        assert main(_args(tmp_path / name, out)) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), expected, atol=1e-5)


def test_word_level_from_a_span_column(tmp_path, smollm2):
    rows = [
        {"text": "The bank approved my loan.", "span": [4, 8]},
        {"text": "short", "span": [3, 9]},
    ]
    (tmp_path / "w.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "w.npy"
    assert main(_args(tmp_path / "w.jsonl", out, "--span-field", "span")) == SKIPPED
    want = reba.Embedder(smollm2, method="reba", k=2).encode_words([(rows[0]["text"], (4, 8))])
    np.testing.assert_allclose(np.load(out), want, atol=1e-5)


def test_clear_errors_for_bad_options(tmp_path, capsys):
    (tmp_path / "in.txt").write_text("text\n")
    assert main(_args(tmp_path / "in.txt", tmp_path / "o.npy", "--method", "nope")) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(_args(tmp_path / "missing.txt", tmp_path / "o.npy")) == 2
    assert "input file not found" in capsys.readouterr().err
    assert main(_args(tmp_path / "in.txt", tmp_path / "o.csv")) == 2


def test_info_lists_models_methods_and_cache(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "gemma-3-270m" in out and "smollm2-135m" in out and "reba-last" in out
    assert "Cache folder:" in out
