"""Reading inputs the one way every engine does: row numbers, bad rows, files, ranges, parts."""

import gzip
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reba.io import read_inputs
from reba.io.files import list_inputs
from reba.io.parts import RangeOutput, part_name, read_part_meta, write_part
from reba.io.ranges import cut_ranges
from reba.io.rows import Fields, open_records

TEXT = Fields()


def _records(path, fields=TEXT):
    fs, [file] = list_inputs(str(path))
    return list(open_records(fs, file.path, file.format, fields, file.name))


def _summary(records):
    return [(r.row, r.item, r.id, r.problem) for r in records]


def test_txt_every_line_is_a_row_crlf_and_bom_dropped(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"\xef\xbb\xbffirst\r\n\nthird \xff\nlast")
    got = _summary(_records(path))
    assert got[0] == (0, "first", None, None)
    assert got[1] == (1, "", None, None)  # an empty line is a row; the embedder rejects it
    assert got[2][0] == 2 and got[2][3] == "not valid UTF-8 (byte 6)"
    assert got[3] == (3, "last", None, None)


def test_jsonl_blank_lines_are_not_rows_bad_lines_are(tmp_path):
    path = tmp_path / "t.jsonl"
    lines = ['{"id": 7, "text": "a"}', "", "  ", "{broken", "[1, 2]", '{"id": "x", "note": 1}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = _summary(_records(path))
    assert [r[0] for r in got] == [0, 1, 2, 3]
    assert got[0] == (0, "a", 7, None)
    assert got[1][3].startswith("invalid JSON")
    assert got[2][3] == "expected an object, got [1, 2]"
    assert got[3] == (3, None, "x", "no field 'text' (fields: id, note)")


def test_csv_quoted_newlines_stay_in_one_row_and_spans_parse(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufeffid,text,span\n1,"two\nlines","0,3"\n\n2,plain,x\n', encoding="utf-8")
    got = _summary(_records(path, Fields(span="span")))
    assert got == [
        (0, ("two\nlines", (0, 3)), "1", None),
        (1, None, "2", "field 'span' is not a [start, end] span: 'x'"),
    ]


def test_parquet_missing_column_names_the_columns(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"body": ["a", "b"], "id": [1, 2]}), path)
    got = _summary(_records(path))
    assert got == [(i, None, i + 1, "no field 'text' (fields: body, id)") for i in range(2)]


def test_compressed_jsonl_reads_like_plain(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}"}) + "\n" for i in range(5))
    (tmp_path / "a.jsonl").write_text(rows)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(rows.encode()))
    assert _summary(_records(tmp_path / "a.jsonl")) == _summary(_records(tmp_path / "b.jsonl.gz"))


def test_unreadable_file_is_one_clear_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"broken\.parquet: cannot be read as \.parquet"):
        _records(path)


def test_read_inputs_keeps_its_shape(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": ""}\n{broken\n')
    records = read_inputs(path)
    assert records.items == ["x", ""] and records.rows == [0, 1] and records.ids == ["a", "b"]
    assert list(records.problems) == [2]


def test_listing_folders_globs_and_files(tmp_path):
    for name in ("a/x.jsonl", "b/x.jsonl", "b/c/y.txt", "_skip/z.txt", "b/.hidden.txt", "n.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("t\n")
    _, files = list_inputs(str(tmp_path))
    assert [f.name for f in files] == ["a/x.jsonl", "b/c/y.txt", "b/x.jsonl"]
    assert files[0].size == 2 and files[0].mtime_ns == os.stat(tmp_path / "a/x.jsonl").st_mtime_ns
    _, files = list_inputs(str(tmp_path / "*" / "x.jsonl"))
    assert [f.name for f in files] == ["a/x.jsonl", "b/x.jsonl"]
    _, [one] = list_inputs(str(tmp_path / "b" / "c" / "y.txt"))
    assert one.name == "y.txt" and one.format == ".txt"
    with pytest.raises(FileNotFoundError, match="input file not found"):
        list_inputs(str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match="unsupported input format"):
        list_inputs(str(tmp_path / "n.md"))
    assert part_name("a/x.jsonl", 0, 5) != part_name("b/x.jsonl", 0, 5)


def test_ranges_are_fixed_and_their_digests_see_every_change(tmp_path):
    path = tmp_path / "t.jsonl"
    rows = [{"id": i, "text": f"text {i}"} for i in range(25)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ranges = list(cut_ranges(_records(path), "t.jsonl", 10))
    assert [(r.start, r.end, len(r.rows)) for r in ranges] == [
        (0, 10, 10),
        (10, 20, 10),
        (20, 25, 5),
    ]
    assert ranges[1].items[0] == "text 10" and ranges[1].ids[0] == 10
    rows[13]["text"] = "changed"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    again = list(cut_ranges(_records(path), "t.jsonl", 10))
    assert [a.digest == b.digest for a, b in zip(ranges, again)] == [True, False, True]


def test_a_part_holds_vectors_ids_failures_and_its_metadata(tmp_path):
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    output = RangeOutput(
        "d/t.jsonl", 10, 14, "abc", [10, 12], ["a", 5], vectors, [(11, None, "empty"), (13, 7, "x")]
    )
    from reba.io.files import resolve

    fs, folder = resolve(str(tmp_path))
    counts = write_part(fs, folder, output, {"model": "m"})
    assert counts == {
        "file": "d/t.jsonl",
        "start": 10,
        "end": 14,
        "embedded": 2,
        "failed": 2,
        "truncated": 0,
    }
    name = part_name("d/t.jsonl", 10, 14)
    table = pq.read_table(tmp_path / name)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 3)
    assert table.to_pydict()["id"] == ["a", "5"] and table.to_pydict()["row"] == [10, 12]
    np.testing.assert_array_equal(np.array(table.column("embedding").to_pylist()), vectors)
    meta = read_part_meta(fs, f"{folder}/{name}")
    assert meta["model"] == "m" and meta["range"] == {"file": "d/t.jsonl", "start": 10, "end": 14}
    failures = pq.read_table(tmp_path / "_failures" / name).to_pylist()
    assert failures == [
        {"file": "d/t.jsonl", "row": 11, "id": None, "reason": "empty"},
        {"file": "d/t.jsonl", "row": 13, "id": "7", "reason": "x"},
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_failures", name]  # no temporaries
