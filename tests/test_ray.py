"""``reba embed --engine ray``: the local engine's files, resumable, and it survives dead actors.

Runs on a local Ray with 2 CPUs: the real SmolLM2-135M weights where vectors are compared with
the local engine, the 1M-parameter random Llama where only the plumbing is under test.
"""

import contextlib
import gzip
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
import ray
from corpora import BAD_ROWS, texts, write_jsonl
from parquet_outputs import metadata, mtimes, parts, vectors

import reba
from reba.cli.main import main
from reba.runners.summary import EXIT_ROWS_SKIPPED as SKIPPED

DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SRC = Path(__file__).resolve().parents[1] / "src"
SHARD_ROWS = 16
SMOL = ["--model", "smollm2-135m", "--method", "reba", "-k", "2", "--batch-size", "8"]
TINY = ["--model", "tiny-random-llama", "--method", "reba", "-k", "2"]
# Enough rows for the Ray job to embed for a while after its first part is written (one row per
# forward pass there), so that a kill lands while actors have work.
TINY_ROWS, TINY_SHARD = 20000, 500
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray's own


@pytest.fixture(scope="module", autouse=True)
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def _embed(model, *args) -> tuple[int, str]:
    """Run ``reba embed``; return its exit code and what it printed on stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["embed", *model, "--quiet", *map(str, args)])
    return code, err.getvalue()


def _sentences(n: int) -> list[str]:
    lines = (DATA_DIR / "sentence" / "en_STSB.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["s1"] for line in lines[:n]]


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
    """The local engine's single-file output and its folder output, for the same job."""
    out = tmp_path_factory.mktemp("local")
    code, err = _embed(SMOL, "--input", corpus, "--output", out / "emb.parquet")
    assert code == SKIPPED, err
    code, err = _embed(SMOL, "--input", corpus, "--output", out / "emb", "--shard-rows", SHARD_ROWS)
    assert code == SKIPPED, err
    return pq.read_table(out / "emb.parquet"), out / "emb"


@pytest.fixture(scope="module")
def ray_run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "emb"
    args = ("--engine", "ray", "--input", corpus, "--output", out, "--shard-rows", SHARD_ROWS)
    code, err = _embed(SMOL, *args)
    assert code == SKIPPED, err
    return out, err


def test_ray_output_equals_local_row_for_row(local, ray_run):
    single, _ = local
    out, _ = ray_run
    assert len(parts(out)) == 3  # rows 0-15, 16-31, 32-41
    got = pq.read_table(out).sort_by("row")
    assert got.schema.field("embedding").type == pa.list_(pa.float32(), 576)
    assert got.column("row").to_pylist() == single.column("row").to_pylist()
    assert got.column("id").to_pylist() == single.column("id").to_pylist()
    assert "bad-empty" not in got.column("id").to_pylist() and got.num_rows == 40
    np.testing.assert_allclose(vectors(got), vectors(single), atol=1e-5)


def test_ray_writes_the_local_engines_files(local, ray_run):
    """Same part names, schemas, metadata (configuration, ranges, digests, counts), failures
    and manifest as the local engine's folder: either engine can resume the other's run."""
    _, folder = local
    out, _ = ray_run
    assert [p.name for p in parts(out)] == [p.name for p in parts(folder)]
    for mine, theirs in zip(parts(out), parts(folder)):
        assert pq.read_schema(mine).remove_metadata() == pq.read_schema(theirs).remove_metadata()
        assert metadata(mine) == metadata(theirs)
    failures = pq.read_table(out / "_failures").to_pylist()
    assert failures == pq.read_table(folder / "_failures").to_pylist()
    assert [(f["row"], f["id"]) for f in failures] == [(5, "bad-empty"), (23, "bad-missing")]
    assert json.loads((out / "_reba.json").read_text()) == json.loads(
        (folder / "_reba.json").read_text()
    )


def test_summary_names_bad_rows(ray_run):
    _, err = ray_run
    assert "skipped corpus.jsonl row 5: text is empty" in err
    assert "skipped corpus.jsonl row 23: no field 'text'" in err
    assert "42 items, 40 embedded, 0 truncated, 2 failed; 3 shards: 3 computed, 0 skipped" in err


def test_rerun_writes_nothing(corpus, ray_run):
    out, _ = ray_run
    before = mtimes(out)
    args = ("--engine", "ray", "--input", corpus, "--output", out, "--shard-rows", SHARD_ROWS)
    code, err = _embed(SMOL, *args)
    assert code == SKIPPED and mtimes(out) == before
    assert "3 shards: 0 computed, 3 skipped" in err


def test_deleted_part_is_recomputed_alone(corpus, ray_run, tmp_path):
    original, _ = ray_run
    out = tmp_path / "copy"
    shutil.copytree(original, out)  # copy2 keeps the mtimes
    middle = parts(out)[1]
    middle.unlink()
    before = mtimes(out)
    del before[f"_failures/{middle.name}"]  # row 23's failure: rewritten with its range
    code, err = _embed(
        *(SMOL, "--engine", "ray", "--num-actors", 1, "--input", corpus, "--output", out),
        *("--shard-rows", SHARD_ROWS),
    )
    assert code == SKIPPED, err
    assert "3 shards: 1 computed, 2 skipped" in err and "(15 embedded this run)" in err
    after = mtimes(out)
    assert set(after) == set(before) | {middle.name, f"_failures/{middle.name}"}
    assert [n for n, mtime in before.items() if after[n] != mtime] == []
    again, first = pq.read_table(middle), pq.read_table(original / middle.name)
    assert again.column("id").to_pylist() == first.column("id").to_pylist()
    np.testing.assert_allclose(vectors(again), vectors(first), atol=1e-5)


def test_other_configuration_or_a_file_output_is_refused(corpus, ray_run, tmp_path):
    out, _ = ray_run
    before = mtimes(out)
    args = ("--engine", "ray", "--input", corpus, "--output", out, "--shard-rows", SHARD_ROWS)
    code, err = _embed(SMOL, *args, "--layer", "-2")
    assert code == 2 and "different configuration (" in err and "; layer: -2 now, -1 there" in err
    assert mtimes(out) == before
    code, err = _embed(SMOL, "--engine", "ray", "--input", corpus, "--output", tmp_path / "e.npy")
    assert code == 2 and "--engine ray writes a folder of Parquet parts" in err


def test_mixed_formats_and_packing_equal_the_local_engine(tmp_path):
    """A folder of Parquet (no ids, a blank text), CSV and gzipped text, read on the workers."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    sentences = _sentences(30)
    pq.write_table(pa.table({"text": sentences[:3] + ["  "] + sentences[3:12]}), data / "a.parquet")
    (data / "sub" / "b.csv").write_text(
        "id,text\n" + "".join(f'{i},"{t}"\n' for i, t in enumerate(sentences[12:20]))
    )
    (data / "c.txt.gz").write_bytes(gzip.compress(("\n".join(sentences[20:]) + "\n").encode()))
    code, err = _embed(SMOL, "--input", data, "--output", tmp_path / "local", "--shard-rows", 5)
    assert code == SKIPPED, err
    code, err = _embed(
        *(SMOL, "--engine", "ray", "--input", data, "--output", tmp_path / "ray"),
        *("--shard-rows", 5, "--packing"),
    )
    assert code == SKIPPED, err
    assert "31 items, 30 embedded, 0 truncated, 1 failed" in err
    order = [("file", "ascending"), ("row", "ascending")]
    want, got = (pq.read_table(tmp_path / name).sort_by(order) for name in ("local", "ray"))
    for column in ("file", "row", "id"):
        assert got.column(column).to_pylist() == want.column(column).to_pylist()
    # a.parquet and c.txt.gz have no ids; CSV ids are text
    assert got.column("id").to_pylist() == [None] * 22 + [str(i) for i in range(8)]
    # Packed rows are other matrix shapes: float32 kernels differ by a few ulp (activations ~40).
    np.testing.assert_allclose(vectors(got), vectors(want), atol=1e-4)
    failures = pq.read_table(tmp_path / "ray" / "_failures").to_pylist()
    assert [(f["file"], f["row"]) for f in failures] == [("a.parquet", 3)]


def test_fitted_post_processing_is_applied_on_the_workers(corpus, tmp_path):
    """A configuration with a fitted state (all-but-the-top, fitted on 40 real sentences): the
    Ray workers load the state from the configuration and write the embedder's vectors, and
    the manifest records the state's digest."""
    from reba import Embedder

    sentences = _sentences(40)
    base = Embedder("smollm2-135m", method="reba", k=2, device="cpu")
    fitted = base.fit(sentences, "abtt", k=2, out=tmp_path / "pp")
    config = fitted.config.save(tmp_path / "pp.json")
    expected = fitted.encode(sentences[:30])
    assert not np.allclose(expected, base.encode(sentences[:30]), atol=1e-3)  # it does something

    source = tmp_path / "in.jsonl"
    rows = [json.dumps({"id": i, "text": t}) for i, t in enumerate(sentences[:30])]
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "ray"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["embed", "--config", str(config), "--engine", "ray", "--input", str(source),
             "--output", str(out), "--shard-rows", "10", "--batch-size", "8", "--quiet"]
        )  # fmt: skip
    assert code == 0, err.getvalue()
    got = pq.read_table(out).sort_by("row")
    np.testing.assert_allclose(vectors(got), expected, atol=1e-5)
    manifest = json.loads((out / "_reba.json").read_text())["config"]
    assert manifest["postprocess"]["sha256"] == fitted.config.postprocess.sha256


# --- fault tolerance, with the tiny model ----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """20000 generated rows (3 bad), and ``Embedder.encode``'s vectors of every 50th row."""
    source = write_jsonl(tmp_path_factory.mktemp("tiny") / "tiny.jsonl", TINY_ROWS, 7, BAD_ROWS)
    sample = [r for r in range(0, TINY_ROWS, 50) if r not in BAD_ROWS]
    every = texts(TINY_ROWS, seed=7)
    expected = reba.Embedder("tiny-random-llama", method="reba", k=2).encode(
        [every[r] for r in sample]
    )
    return source, dict(zip(sample, expected))


def _ray_job(address: str, source: Path, out: Path) -> subprocess.Popen:
    """``reba embed --engine ray`` as a driver of its own, joining this module's Ray."""
    command = [sys.executable, "-m", "reba.cli.main", "embed", *TINY, "--quiet", "--engine", "ray"]
    command += ["--address", address, "--input", str(source), "--output", str(out)]
    command += ["--shard-rows", str(TINY_SHARD), "--batch-size", "1"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def _wait_for_parts(job: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 600
    while len(parts(out)) < count and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert job.poll() is None, f"the job ended first: {job.stderr.read()[-3000:]}"


def _embedding_actors() -> set[int]:
    """PIDs of the embedding actors of this test's Ray (the processes it started), by title."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                if state != "Z":  # a killed process lingers as a zombie until reaped
                    children.setdefault(int(parent), []).append(int(entry.name))
    found, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            if b"EmbedRanges" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
    return found


def _check_complete(out: Path, sample: dict[int, np.ndarray]) -> None:
    """Every good row once and none twice; sampled rows equal to ``Embedder.encode``'s."""
    table = pq.read_table(out)
    rows = table.column("row").to_pylist()
    assert len(rows) == len(set(rows)) and set(rows) == set(range(TINY_ROWS)) - set(BAD_ROWS)
    got = dict(zip(rows, vectors(table)))
    np.testing.assert_allclose(
        np.stack([got[r] for r in sample]), np.stack(list(sample.values())), atol=1e-5
    )
    failures = pq.read_table(out / "_failures").column("row").to_pylist()
    assert sorted(failures) == sorted(BAD_ROWS)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds actor processes through /proc")
def test_killed_actor_is_restarted_and_the_output_is_complete(cluster, tiny_corpus, tmp_path):
    source, sample = tiny_corpus
    out = tmp_path / "emb"
    job = _ray_job(cluster, source, out)
    try:
        _wait_for_parts(job, out, 1)
        while not _embedding_actors() and job.poll() is None:
            time.sleep(0.02)
        before = _embedding_actors()
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        parts_at_kill = len(parts(out))
        while victim in _embedding_actors():  # SIGKILL lands asynchronously
            time.sleep(0.01)
        seen = set()
        while job.poll() is None:
            seen |= _embedding_actors()
            time.sleep(0.1)
    finally:
        job.wait(timeout=600)
    err = job.stderr.read()
    assert job.returncode == SKIPPED, err[-3000:]
    total = -(-TINY_ROWS // TINY_SHARD)
    assert parts_at_kill < total // 2  # killed mid-run, with most of the work left
    assert victim not in seen and seen - before, "no actor was started in place of the dead one"
    assert f"{total} shards: {total} computed, 0 skipped" in err
    _check_complete(out, sample)


def test_interrupted_run_resumes_each_row_once(cluster, tiny_corpus, tmp_path):
    source, sample = tiny_corpus
    out = tmp_path / "emb"
    job = _ray_job(cluster, source, out)
    try:
        _wait_for_parts(job, out, 2)
        job.send_signal(signal.SIGKILL)  # the driver: its actors and tasks go with it
    finally:
        job.wait(timeout=600)
    done = len(parts(out))
    total = -(-TINY_ROWS // TINY_SHARD)
    assert 2 <= done < total
    code, err = _embed(
        *(TINY, "--engine", "ray", "--input", source, "--output", out),
        *("--shard-rows", TINY_SHARD),
    )
    assert code == SKIPPED, err
    computed = int(err.split(" computed, ")[0].rsplit(" ", 1)[1])
    assert f"{total} shards: {computed} computed, {total - computed} skipped" in err
    assert total - computed >= done  # nothing committed before the kill was redone
    _check_complete(out, sample)


def test_missing_ray_says_how_to_install(corpus, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    code, err = _embed(SMOL, "--engine", "ray", "--input", corpus, "--output", tmp_path / "x")
    assert code == 2
    assert 'pip install "reba[ray]"' in err and 'pip install "ray[data]>=2.60,<2.61"' in err
    assert not (tmp_path / "x").exists()


def test_an_untested_ray_is_refused_with_what_to_install():
    from reba.runners.ray_compat import INSTALL, check_ray_version

    check_ray_version(ray.__version__)  # the installed Ray is a tested one
    for version in ("2.59.0", "2.61.0", "3.0.0", "nightly"):
        with pytest.raises(ImportError, match=f"found Ray {version}") as refused:
            check_ray_version(version)
        assert INSTALL in str(refused.value)


def test_local_engine_does_not_import_ray():
    code = "import sys; from reba.cli.main import main; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
