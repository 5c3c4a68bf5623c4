"""``reba embed --engine ray`` losing a node mid-run, on Ray's own multi-node test cluster.

The cluster's nodes are processes of this machine. It keeps its files, and the address file that
``ray.init()`` looks for, under a temporary ``RAY_TMPDIR`` of its own, so a Ray started by
anyone else on the machine never joins it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from corpora import texts, write_jsonl
from parquet_outputs import parts, vectors

import reba
from reba.runners.faults import ENV
from reba.runners.summary import EXIT_ALL_EMBEDDED, EXIT_RANGES_FAILED

pytest.importorskip("ray.data", reason="needs Ray Data: pip install 'reba[ray]'")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")  # Ray's own

TINY = ["--model", "tiny-random-llama", "--method", "reba", "-k", "2"]
SRC = Path(__file__).resolve().parents[1] / "src"
ROWS, SHARD = 480, 16


@pytest.fixture
def cluster(monkeypatch):
    """A head node with no CPU (the actors go to worker nodes) in a temporary ``RAY_TMPDIR``."""
    from ray.cluster_utils import Cluster

    tmp = tempfile.mkdtemp(prefix="rf", dir="/tmp")  # short: Ray's socket paths must fit
    monkeypatch.setenv("RAY_TMPDIR", tmp)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        yield cluster
    finally:
        cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def _start(cluster, source: Path, out: Path, shard_rows: int) -> subprocess.Popen:
    """``reba embed --engine ray``, a driver of its own, with two actors on ``cluster``."""
    command = [sys.executable, "-m", "reba.cli.main", "embed", *TINY, "--quiet"]
    command += ["--engine", "ray", "--address", cluster.address, "--num-actors", "2"]
    command += ["--cpus-per-actor", "1", "--input", str(source), "--output", str(out)]
    command += ["--shard-rows", str(shard_rows), "--batch-size", "1"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)


def test_a_job_that_loses_a_node_embeds_every_row_once(cluster, tmp_path, monkeypatch):
    # The first node's workers pace each range (2 s), so that the node is lost mid-run however
    # long adding the second node takes; the second node's workers run at full speed.
    monkeypatch.setenv(ENV, "sleep@2000")
    first = cluster.add_node(num_cpus=2)  # both actors start here
    monkeypatch.delenv(ENV)
    source = write_jsonl(tmp_path / "c.jsonl", ROWS, seed=5)
    out = tmp_path / "emb"
    job = _start(cluster, source, out, SHARD)
    try:
        deadline = time.monotonic() + 600
        while len(parts(out)) < 2 and job.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert job.poll() is None, f"the job ended first: {job.stderr.read()[-3000:]}"
        cluster.add_node(num_cpus=2)  # where the actors can be restarted
        cluster.remove_node(first, allow_graceful=False)  # its actors and blocks are lost
        at_loss = len(parts(out))
        _, err = job.communicate(timeout=900)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == EXIT_ALL_EMBEDDED, err[-3000:]
    total = -(-ROWS // SHARD)
    assert at_loss < total // 2  # lost mid-run, with most of the work left
    assert f"{total} shards: {total} computed, 0 skipped" in err
    table = pq.read_table(out)
    rows = table.column("row").to_pylist()
    assert len(rows) == len(set(rows)) and set(rows) == set(range(ROWS))
    sample = list(range(0, ROWS, 37))
    every = texts(ROWS, seed=5)
    expected = reba.Embedder("tiny-random-llama", method="reba", k=2).encode(
        [every[r] for r in sample]
    )
    got = dict(zip(rows, vectors(table)))
    np.testing.assert_allclose(np.stack([got[r] for r in sample]), expected, atol=1e-5)
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_a_failing_range_exits_as_on_the_local_engine(cluster, tmp_path, monkeypatch):
    """An error that persists on the workers: the range unwritten, exit 4; a re-run on a node
    without the fault writes exactly it."""
    monkeypatch.setenv(ENV, "always@20")  # the workers of the next node inherit it
    faulty = cluster.add_node(num_cpus=2)
    monkeypatch.delenv(ENV)
    source = write_jsonl(tmp_path / "c.jsonl", 64, seed=6)
    out = tmp_path / "emb"
    _, err = (job := _start(cluster, source, out, 16)).communicate(timeout=900)
    assert job.returncode == EXIT_RANGES_FAILED, err[-3000:]
    assert "FAILED c.jsonl rows 16-31: InjectedFault: injected fault" in err, err[-3000:]
    assert "4 shards: 3 computed, 0 skipped (already written), 1 FAILED" in err
    cluster.add_node(num_cpus=2)
    cluster.remove_node(faulty)
    _, err = (job := _start(cluster, source, out, 16)).communicate(timeout=900)
    assert job.returncode == EXIT_ALL_EMBEDDED, err[-3000:]
    assert "4 shards: 1 computed, 3 skipped" in err
    rows = pq.read_table(out).column("row").to_pylist()
    assert sorted(rows) == list(range(64))
