"""``reba embed`` under faults, each in a real process: SIGKILL at random moments, errors that are
not about an item (injected with the test-only ``REBA_TEST_FAULT`` hook), a resume with another
dtype, and two jobs on one folder.
"""

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from corpora import BAD_ROWS, texts, write_jsonl
from parquet_outputs import parts, vectors

import reba
from reba.cli.main import main
from reba.runners.faults import ENV
from reba.runners.summary import EXIT_ALL_EMBEDDED, EXIT_RANGES_FAILED, EXIT_ROWS_SKIPPED

MODEL = ["--model", "tiny-random-llama", "--method", "reba", "-k", "2"]
SRC = Path(__file__).resolve().parents[1] / "src"
ROWS, SHARD = 240, 8  # 30 ranges: room for three kills on a loaded machine
PACE_MS = 50  # the kill test's pace per range (REBA_TEST_FAULT=sleep@50)
REFUSED = 2
# ``reba embed`` with warnings on stderr however the library's logging is set up
CLI = "import logging, sys; logging.basicConfig(); from reba.cli.main import main; sys.exit(main())"


def _command(source: Path, out: Path, *extra) -> list[str]:
    command = [sys.executable, "-c", CLI, "embed", *MODEL, "--quiet"]
    return command + ["--input", str(source), "--output", str(out), *map(str, extra)]


def _start(source: Path, out: Path, *extra, fault: str | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop(ENV, None)
    if fault:
        env[ENV] = fault
    return subprocess.Popen(
        _command(source, out, *extra), env=env, stderr=subprocess.PIPE, text=True
    )


def _run(source: Path, out: Path, *extra, fault: str | None = None) -> tuple[int, str]:
    job = _start(source, out, *extra, fault=fault)
    _, err = job.communicate(timeout=900)
    return job.returncode, err


def _embed(*args) -> tuple[int, str]:
    """``reba embed`` in this process (no fault injected)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["embed", *MODEL, "--quiet", *map(str, args)])
    return code, err.getvalue()


def _wait_for_parts(job: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 600
    while len(parts(out)) < count and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.poll() is None, f"the job ended first: {job.stderr.read()[-3000:]}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A corpus with bad rows, and ``Embedder.encode``'s vector of every good row."""
    source = write_jsonl(tmp_path_factory.mktemp("faults") / "c.jsonl", ROWS, 3, BAD_ROWS)
    good = [r for r in range(ROWS) if r not in BAD_ROWS]
    every = texts(ROWS, seed=3)
    expected = reba.Embedder("tiny-random-llama", method="reba", k=2).encode(
        [every[r] for r in good]
    )
    return source, dict(zip(good, expected))


@pytest.fixture(scope="module")
def clean(corpus):
    """The corpus without its bad rows: every row embeds, so a clean run exits 0."""
    source, expected = corpus
    clean = source.with_name("clean.jsonl")
    lines = source.read_text(encoding="utf-8").splitlines()
    clean.write_text("".join(lines[r] + "\n" for r in sorted(expected)), encoding="utf-8")
    return clean, dict(enumerate(expected[r] for r in sorted(expected)))


def _check(out: Path, expected: dict[int, np.ndarray]) -> None:
    """Every row once, none twice, each equal to ``Embedder.encode``'s; no temporary file left."""
    table = pq.read_table(out)
    rows = table.column("row").to_pylist()
    assert len(rows) == len(set(rows)) and set(rows) == set(expected)
    got = dict(zip(rows, vectors(table)))
    np.testing.assert_allclose(
        np.stack([got[r] for r in expected]), np.stack(list(expected.values())), atol=1e-5
    )
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_killed_three_times_resumes_each_row_once(corpus, tmp_path):
    source, expected = corpus
    out = tmp_path / "emb"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    done = 0
    for _ in range(3):
        # each range paced to >= 50 ms, so a round commits at most ~7 of the 30 ranges however
        # fast the machine (unpaced, an idle machine finished the job before the third kill)
        job = _start(source, out, "--shard-rows", SHARD, fault=f"sleep@{PACE_MS}")
        try:
            _wait_for_parts(job, out, done + rng.randint(1, 3))
            time.sleep(rng.uniform(0, 0.2))  # anywhere in a range: embedding, writing, renaming
            job.send_signal(signal.SIGKILL)
        finally:
            job.wait()
        assert job.returncode == -signal.SIGKILL, f"seed {seed}: {job.stderr.read()[-2000:]}"
        assert len(parts(out)) >= done, f"seed {seed}: a committed part was lost"
        done = len(parts(out))
    total = -(-ROWS // SHARD)
    assert 3 <= done < total, f"seed {seed}"
    code, err = _embed("--input", source, "--output", out, "--shard-rows", SHARD)
    assert code == EXIT_ROWS_SKIPPED, err
    assert f"{total} shards: {total - done} computed, {done} skipped" in err
    _check(out, expected)
    failures = pq.read_table(out / "_failures").column("row").to_pylist()
    assert sorted(failures) == sorted(BAD_ROWS)  # bad rows once each, as failures
    manifest = json.loads((out / "_reba.json").read_text())
    assert manifest["complete"] and manifest["failed_ranges"] == []


def test_errors_not_about_an_item_are_retried(clean, tmp_path):
    """A forward that raises once, and one out of memory until the batch holds one row."""
    source, expected = clean
    out = tmp_path / "emb"
    code, err = _run(source, out, "--shard-rows", SHARD, fault="once@5,oom@20")
    assert code == EXIT_ALL_EMBEDDED, err
    assert "retry 1 of 2" in err and "batch size now 1" in err
    _check(out, expected)


def test_an_error_that_persists_leaves_its_range_unwritten(clean, tmp_path):
    source, expected = clean
    out = tmp_path / "emb"
    code, err = _run(source, out, "--shard-rows", SHARD, fault="always@20,always@100")
    assert code == EXIT_RANGES_FAILED, err
    for rows in ("clean.jsonl rows 16-23", "clean.jsonl rows 96-103"):
        assert f"FAILED {rows}: InjectedFault: injected fault" in err, err
    assert "2 range(s) failed and were not written" in err
    total = -(-len(expected) // SHARD)
    assert f"{total} shards: {total - 2} computed, 0 skipped (already written), 2 FAILED" in err
    names = [p.name for p in parts(out)]
    assert len(names) == total - 2 and not [n for n in names if f"-{16:012d}-" in n]
    manifest = json.loads((out / "_reba.json").read_text())
    assert not manifest["complete"]
    assert [(f["start"], f["end"]) for f in manifest["failed_ranges"]] == [(16, 24), (96, 104)]
    code, err = _embed("--input", source, "--output", out, "--shard-rows", SHARD)  # no fault now
    assert code == EXIT_ALL_EMBEDDED, err
    assert f"{total} shards: 2 computed, {total - 2} skipped" in err
    _check(out, expected)
    assert json.loads((out / "_reba.json").read_text())["complete"]


@pytest.mark.parametrize("suffix", [".npy", ".parquet"])
def test_a_failed_single_file_job_writes_no_file(clean, tmp_path, monkeypatch, suffix):
    source, _ = clean
    out = tmp_path / f"emb{suffix}"
    monkeypatch.setenv(ENV, "always@3")
    code, err = _embed("--input", source, "--output", out)
    assert code == EXIT_RANGES_FAILED and "FAILED rows 0-" in err, err
    assert list(tmp_path.iterdir()) == []


def test_resuming_with_another_dtype_is_refused(clean, tmp_path):
    source, _ = clean
    out = tmp_path / "emb"
    head = source.with_name("head.jsonl")
    head.write_text("".join(source.read_text().splitlines(True)[:10]))
    code, err = _embed(
        "--input", head, "--output", out, "--shard-rows", SHARD, "--dtype", "float32"
    )
    assert code == EXIT_ALL_EMBEDDED, err
    before = sorted(p.name for p in out.iterdir())
    code, err = _run(head, out, "--shard-rows", SHARD, "--dtype", "bfloat16")
    assert code == REFUSED, err
    assert "with a different configuration (dtype: 'bfloat16' now, 'float32' there" in err, err
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_second_job_on_a_folder_is_refused(clean, tmp_path):
    source, _ = clean
    out = tmp_path / "emb"
    job = _start(source, out, "--shard-rows", SHARD, "--batch-size", 1)
    try:
        _wait_for_parts(job, out, 1)
        code, err = _embed("--input", source, "--output", out, "--shard-rows", SHARD)
        assert code == REFUSED
        assert f"is being written by another reba job (process {job.pid} on " in err, err
    finally:
        job.kill()
        job.wait()
