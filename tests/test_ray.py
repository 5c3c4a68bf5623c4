"""``reba embed --engine ray``: same output as the local engine, resumable, bad rows reported.

Runs on a local Ray with 2 CPUs and the real SmolLM2-135M weights.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray

from reba.cli.main import main

DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SHARD_ROWS = 16
MODEL = ["--model", "smollm2-135m", "--method", "reba", "-k", "2", "--batch-size", "8"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray's own


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _embed(*args) -> tuple[int, str]:
    """Run ``reba embed``; return its exit code and what it printed on stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["embed", *MODEL, "--quiet", *map(str, args)])
    return code, err.getvalue()


def _sentences(n: int) -> list[str]:
    lines = (DATA_DIR / "sentence" / "en_STSB.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["s1"] for line in lines[:n]]


def _shard_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def _read_folder(folder: Path) -> pa.Table:
    table = pa.concat_tables([pq.read_table(p) for p in _shard_files(folder)])
    return table.sort_by("row")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """40 real sentences with ids, plus an empty text and a row without a text field."""
    rows = [{"id": f"stsb-{i}", "text": t} for i, t in enumerate(_sentences(40))]
    rows.insert(5, {"id": "bad-empty", "text": ""})
    rows.insert(23, {"id": "bad-missing", "note": "no text here"})
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def local(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "emb.parquet"
    code, _ = _embed("--input", corpus, "--output", out)
    assert code == 0
    table = pq.read_table(out)
    return table, json.loads(table.schema.metadata[b"reba"])


@pytest.fixture(scope="module")
def ray_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "emb"
    code, err = _embed(
        "--engine", "ray", "--input", corpus, "--output", out, "--shard-rows", SHARD_ROWS
    )
    assert code == 0, err
    return out, err


def test_ray_output_equals_local_row_for_row(local, ray_run):
    table, _ = local
    out, _ = ray_run
    assert [p.name for p in _shard_files(out)] == [
        "part-0000000000-0000000016.parquet",
        "part-0000000016-0000000032.parquet",
        "part-0000000032-0000000042.parquet",
    ]
    got = _read_folder(out)
    assert got.schema.field("embedding").type == pa.list_(pa.float32(), 576)
    assert got.column("row").to_pylist() == table.column("row").to_pylist()
    assert got.column("id").to_pylist() == table.column("id").to_pylist()
    assert "bad-empty" not in got.column("id").to_pylist() and got.num_rows == 40
    np.testing.assert_allclose(
        np.array(got.column("embedding").to_pylist(), dtype=np.float32),
        np.array(table.column("embedding").to_pylist(), dtype=np.float32),
        atol=1e-5,
    )


def test_ray_with_packing_equals_local(local, corpus, tmp_path):
    table, _ = local
    code, err = _embed(
        "--engine", "ray", "--input", corpus, "--output", tmp_path / "packed", "--packing"
    )
    assert code == 0, err
    got = _read_folder(tmp_path / "packed")
    assert got.column("row").to_pylist() == table.column("row").to_pylist()
    # Packed rows are other matrix shapes: float32 kernels differ by a few ulp (activations ~40).
    np.testing.assert_allclose(
        np.array(got.column("embedding").to_pylist(), dtype=np.float32),
        np.array(table.column("embedding").to_pylist(), dtype=np.float32),
        atol=1e-4,
    )


def test_failures_config_and_summary(local, ray_run):
    _, local_meta = local
    out, err = ray_run
    manifest = json.loads((out / "_reba.json").read_text())
    assert manifest["failures"] == local_meta["failures"]
    assert [f["row"] for f in manifest["failures"]] == [5, 23]
    assert "text is empty" in manifest["failures"][0]["reason"]
    assert "no field 'text'" in manifest["failures"][1]["reason"]
    for key in ("model", "method", "k", "layer", "max_length", "dimension", "reba_version"):
        assert manifest["config"][key] == local_meta[key], key
    assert manifest["config"]["shard_rows"] == SHARD_ROWS
    assert (manifest["items"], manifest["embedded"], manifest["failed"]) == (42, 40, 2)
    first = json.loads(pq.read_schema(_shard_files(out)[0]).metadata[b"reba"])
    assert first["k"] == 2 and first["shard"] == [0, 16] and first["rows"] == 15
    assert first["failures"] == [manifest["failures"][0]]
    assert "skipped row 5: text is empty" in err and "skipped row 23: no field 'text'" in err
    assert "42 items, 40 embedded, 0 truncated, 2 failed" in err
    assert "3 shards: 3 computed, 0 skipped" in err and "texts/s" in err


def test_rerun_writes_nothing(corpus, ray_run):
    out, _ = ray_run
    before = _mtimes(out)
    code, err = _embed(
        "--engine", "ray", "--input", corpus, "--output", out, "--shard-rows", SHARD_ROWS
    )
    assert code == 0
    assert _mtimes(out) == before
    assert "3 shards: 0 computed, 3 skipped" in err
    assert "42 items, 40 embedded, 0 truncated, 2 failed" in err


def test_deleted_shard_is_recomputed_alone(corpus, ray_run, tmp_path):
    original, _ = ray_run
    out = tmp_path / "copy"
    shutil.copytree(original, out)  # copy2 keeps the mtimes
    middle = out / "part-0000000016-0000000032.parquet"
    middle.unlink()
    before = _mtimes(out)
    code, err = _embed(
        *("--engine", "ray", "--num-actors", 1, "--input", corpus, "--output", out),
        *("--shard-rows", SHARD_ROWS),
    )
    assert code == 0, err
    assert "3 shards: 1 computed, 2 skipped" in err and "(15 embedded this run)" in err
    after = _mtimes(out)
    assert set(after) == set(before) | {middle.name}
    assert all(after[name] == mtime for name, mtime in before.items())
    again, first = pq.read_table(middle), pq.read_table(original / middle.name)
    assert again.column("id").to_pylist() == first.column("id").to_pylist()
    np.testing.assert_allclose(
        np.array(again.column("embedding").to_pylist()),
        np.array(first.column("embedding").to_pylist()),
        atol=1e-5,
    )


def test_other_configuration_is_refused(corpus, ray_run):
    out, _ = ray_run
    before = _mtimes(out)
    args = ("--engine", "ray", "--input", corpus, "--output", out)
    code, err = _embed(*args, "--shard-rows", SHARD_ROWS, "--layer", "-2")
    assert code == 2 and "different configuration (layer: -2 now, -1 there)" in err
    code, err = _embed(*args, "--shard-rows", 10)
    assert code == 2 and "shard_rows: 10 now, 16 there" in err
    assert _mtimes(out) == before


def test_parquet_input_without_ids_uses_row_numbers(tmp_path):
    texts = _sentences(12)
    texts[3] = "   "
    source = tmp_path / "texts.parquet"
    pq.write_table(pa.table({"text": texts, "label": list(range(12))}), source)
    code, _ = _embed("--input", source, "--output", tmp_path / "local.parquet")
    assert code == 0
    code, err = _embed(
        "--engine", "ray", "--num-actors", 1, "--input", source, "--output", tmp_path / "emb"
    )
    assert code == 0, err
    assert "12 items, 11 embedded, 0 truncated, 1 failed; 1 shards: 1 computed" in err
    local, got = pq.read_table(tmp_path / "local.parquet"), _read_folder(tmp_path / "emb")
    assert got.column_names == ["row", "embedding"]
    assert got.column("row").to_pylist() == [r for r in range(12) if r != 3]
    np.testing.assert_allclose(
        np.array(got.column("embedding").to_pylist()),
        np.array(local.column("embedding").to_pylist()),
        atol=1e-5,
    )
    manifest = json.loads((tmp_path / "emb" / "_reba.json").read_text())
    assert [f["row"] for f in manifest["failures"]] == [3]


def test_missing_ray_says_how_to_install(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    code, err = _embed("--engine", "ray", "--input", corpus, "--output", tmp_path / "x")
    assert code == 2
    assert 'pip install "reba[ray]"' in err and 'pip install "ray[data]"' in err
    assert not (tmp_path / "x").exists()


def test_local_engine_does_not_import_ray():
    code = "import sys; from reba.cli.main import main; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
