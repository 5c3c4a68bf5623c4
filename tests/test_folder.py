"""``reba embed`` into a folder with the local engine: parts streamed, runs resumed, refusals."""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from corpora import BAD_ROWS, write_jsonl
from parquet_outputs import metadata, mtimes, parts, vectors

from reba.cli.main import main
from reba.runners.summary import EXIT_ROWS_SKIPPED as SKIPPED

MODEL = ["--model", "tiny-random-llama", "--method", "reba", "-k", "2"]
SRC = Path(__file__).resolve().parents[1] / "src"


def _embed(*args) -> tuple[int, str]:
    """Run ``reba embed``; return its exit code and what it printed on stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["embed", *MODEL, "--quiet", *map(str, args)])
    return code, err.getvalue()


def _by_row(table: pa.Table) -> dict[int, np.ndarray]:
    return dict(zip(table.column("row").to_pylist(), vectors(table)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", 60, bad=BAD_ROWS)


@pytest.fixture(scope="module")
def single(corpus, tmp_path_factory):
    """The single-file output of the same job: every vector computed in one call."""
    out = tmp_path_factory.mktemp("single") / "emb.parquet"
    code, err = _embed("--input", corpus, "--output", out)
    assert code == SKIPPED, err
    table = pq.read_table(out)
    return table, json.loads(table.schema.metadata[b"reba"])


@pytest.fixture(scope="module")
def folder(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("folder") / "emb"
    code, err = _embed("--input", corpus, "--output", out, "--shard-rows", 16)
    assert code == SKIPPED, err
    return out, err


def test_folder_equals_single_file_row_for_row(single, folder):
    table, meta = single
    out, _ = folder
    assert [p.name.rsplit("-", 2)[1:] for p in parts(out)] == [
        ["000000000000", "000000000016.parquet"],
        ["000000000016", "000000000032.parquet"],
        ["000000000032", "000000000048.parquet"],
        ["000000000048", "000000000060.parquet"],
    ]
    got = pq.read_table(out).sort_by("row")  # the folder reads as one table
    assert got.schema.names == ["file", "row", "id", "embedding"]
    assert got.schema.field("embedding").type == pa.list_(pa.float32(), meta["dimension"])
    assert set(got.column("file").to_pylist()) == {"corpus.jsonl"}
    assert got.column("row").to_pylist() == table.column("row").to_pylist()
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    np.testing.assert_allclose(vectors(got), vectors(table), rtol=1e-5, atol=1e-6)
    part = metadata(parts(out)[1])
    for key in ("model", "method", "k", "layer", "max_length", "dimension", "reba_version"):
        assert part[key] == meta[key], key
    assert part["range"] == {"file": "corpus.jsonl", "start": 16, "end": 32}
    assert (part["embedded"], part["failed"], part["shard_rows"]) == (15, 1, 16)


def test_failures_table_manifest_and_summary(single, folder):
    _, meta = single
    out, err = folder
    failures = pq.read_table(out / "_failures").sort_by("row").to_pylist()
    assert [(f["row"], f["reason"]) for f in failures] == [
        (f["row"], f["reason"]) for f in meta["failures"]
    ]
    assert [f["row"] for f in failures] == [3, 11, 17]
    assert [f["id"] for f in failures] == ["empty", "nofield", None]
    manifest = json.loads((out / "_reba.json").read_text())
    assert manifest["complete"] and len(manifest["ranges"]) == 4
    assert (manifest["items"], manifest["embedded"], manifest["failed"]) == (60, 57, 3)
    assert "skipped corpus.jsonl row 3: text is empty" in err
    assert "skipped corpus.jsonl row 17: invalid JSON" in err
    assert "60 items, 57 embedded, 0 truncated, 3 failed; 4 shards: 4 computed, 0 skipped" in err


def test_rerun_touches_nothing(corpus, folder):
    out, _ = folder
    before = mtimes(out)
    code, err = _embed("--input", corpus, "--output", out, "--shard-rows", 16)
    assert code == SKIPPED and mtimes(out) == before
    assert "4 shards: 0 computed, 4 skipped" in err and "(0 embedded this run)" in err


def test_other_configuration_or_changed_input_is_refused(tmp_path):
    source = write_jsonl(tmp_path / "c.jsonl", 30)
    out = tmp_path / "emb"
    assert _embed("--input", source, "--output", out, "--shard-rows", 16)[0] == 0
    before = mtimes(out)
    code, err = _embed("--input", source, "--output", out, "--shard-rows", 16, "--layer", -2)
    assert code == 2 and "different configuration (" in err and "; layer: -2 now, -1 there" in err
    assert "embedder_config.layer: -2 now, None there" in err  # nested fields named by path
    code, err = _embed("--input", source, "--output", out, "--shard-rows", 10)
    assert code == 2 and "shard_rows: 10 now, 16 there" in err
    os.utime(source, ns=(time.time_ns(), time.time_ns()))  # touched, same rows: accepted
    code, err = _embed("--input", source, "--output", out, "--shard-rows", 16)
    assert code == 0 and "0 computed, 2 skipped" in err
    before = mtimes(out)  # the manifest now has the new mtime
    lines = source.read_text().splitlines()
    lines[20] = json.dumps({"id": "r20", "text": "an edited row"})
    source.write_text("\n".join(lines) + "\n")
    code, err = _embed("--input", source, "--output", out, "--shard-rows", 16)
    assert code == 2 and "input rows 16-29 of c.jsonl changed since they were embedded" in err
    assert mtimes(out) == before


def test_folder_and_glob_inputs_keep_files_apart(tmp_path):
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "b").mkdir()
    write_jsonl(data / "a" / "x.jsonl", 5, seed=1)
    write_jsonl(data / "b" / "x.jsonl", 4, seed=2)
    (data / "c.txt").write_text("first line\n\nthird line\n")
    code, err = _embed("--input", data, "--output", tmp_path / "emb", "--shard-rows", 3)
    assert code == SKIPPED, err
    got = pq.read_table(tmp_path / "emb").sort_by([("file", "ascending"), ("row", "ascending")])
    keys = list(zip(got.column("file").to_pylist(), got.column("row").to_pylist()))
    assert keys == [("a/x.jsonl", r) for r in range(5)] + [("b/x.jsonl", r) for r in range(4)] + [
        ("c.txt", 0),
        ("c.txt", 2),
    ]
    for name in ("a/x.jsonl", "b/x.jsonl", "c.txt"):  # each file as its own single-file job
        alone = tmp_path / f"{name.replace('/', '_')}.parquet"
        code = _embed("--input", data / name, "--output", alone)[0]
        assert code == (SKIPPED if name == "c.txt" else 0)  # c.txt has an empty line
        mine = got.filter(pa.compute.equal(got.column("file"), name))
        np.testing.assert_allclose(vectors(mine), vectors(pq.read_table(alone)), atol=1e-6)
    code, err = _embed("--input", f"{data}/*/x.jsonl", "--output", tmp_path / "glob")
    assert code == 0 and "9 items, 9 embedded" in err
    code, err = _embed("--input", data, "--output", tmp_path / "one.parquet")
    assert code == 2 and "names 3 files" in err


def test_interrupted_run_resumes_each_row_once(tmp_path):
    source = write_jsonl(tmp_path / "big.jsonl", 2000, bad=BAD_ROWS)
    out = tmp_path / "emb"
    command = [sys.executable, "-m", "reba.cli.main", "embed", *MODEL, "--quiet"]
    command += ["--input", str(source), "--output", str(out), "--shard-rows", "100"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    job = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while len(parts(out)) < 3 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        job.send_signal(signal.SIGKILL)  # no chance to clean up
    finally:
        job.wait()
    done = len(parts(out))
    assert job.returncode == -signal.SIGKILL, job.stderr.read()[-2000:]
    assert 3 <= done < 20
    code, err = _embed(*command[command.index("--input") :])
    assert code == SKIPPED, err
    assert f"20 shards: {20 - done} computed, {done} skipped" in err
    got = pq.read_table(out)
    rows = got.column("row").to_pylist()
    assert len(rows) == len(set(rows)) == 2000 - len(BAD_ROWS)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    whole = tmp_path / "whole.parquet"
    assert _embed("--input", source, "--output", whole)[0] == SKIPPED
    expected, resumed = _by_row(pq.read_table(whole)), _by_row(got)
    assert resumed.keys() == expected.keys()
    np.testing.assert_allclose(
        np.stack([resumed[r] for r in sorted(expected)]),
        np.stack([expected[r] for r in sorted(expected)]),
        atol=1e-6,
    )
    shutil.rmtree(out)


def test_the_manifest_notices_missing_rows():
    from reba.runners.plan import _gaps

    ranges = [
        {"file": "a", "start": 0, "end": 10},
        {"file": "a", "start": 20, "end": 25},
        {"file": "b", "start": 0, "end": 3},
    ]
    assert _gaps(ranges) == ["a rows 10-19"]
    assert _gaps(ranges[2:]) == []
