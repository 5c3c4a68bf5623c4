"""The three stages of the Ray pipeline, each running on the workers.

* ``RangeDatasource`` (a Ray Data ``FileBasedDatasource``): read tasks open the input files through
  pyarrow (local, NFS, ``s3://``, ...), parse them with reba's own parser, and yield each range of
  ``shard_rows`` rows that is not yet committed as **one** dataset row. Ray Data's built-in JSON and
  CSV readers fail the whole job on one malformed line and number no rows; a range carried as
  one row can never be split across blocks, tasks or actors.
* ``EmbedRanges`` (``map_batches`` over an actor pool): each actor loads the model once and embeds
  the ranges it is handed, ``batch_size`` rows per forward pass. A range whose error outlives its
  retries (``reba.runners.retry``) is passed on as failed, with no vectors.
* ``RangeDatasink`` (a Ray Data ``Datasink``): write tasks commit each embedded range as one part
  (``reba.io.parts``), atomically and under a name fixed by the range, so a retried task rewrites
  the same file rather than adding rows; a failed range is not written. Only counts (and the
  failed ranges' errors) go back to the driver.

Ray's private APIs are in ``ray_compat``.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import ray
from ray.data import Datasink

from reba.io.files import InputFile
from reba.io.folder import OutputFolder, config_difference, refuse_changed
from reba.io.parts import RangeOutput, id_text, write_part
from reba.io.ranges import RowRange, cut_ranges
from reba.io.rows import iter_records
from reba.runners.embed_range import embed_range
from reba.runners.job import EmbedJob, make_embedder
from reba.runners.ray_compat import StreamingFileSource
from reba.runners.retry import RangeFailed


# --- reading ---------------------------------------------------------------------------------
class RangeDatasource(StreamingFileSource):
    """The uncommitted ranges of ``files``, one dataset row each."""

    def __init__(self, files: list[InputFile], fs, job: EmbedJob, committed: dict, out: str):
        super().__init__([f.path for f in files], filesystem=fs)
        # Behind references, as Ray does with its paths: read tasks would otherwise each carry
        # a copy of every file's name and committed ranges.
        self._files_ref = ray.put({f.path: f for f in files})
        self._committed_ref = ray.put(committed)  # file name -> {start: digest}
        self._job = job
        self._out = out

    def open_file(self, filesystem, path: str):
        if path.lower().endswith(".parquet"):
            return filesystem.open_input_file(path)  # Parquet needs random access
        return filesystem.open_input_stream(path, compression="detect")

    def read_file(self, f, path: str):
        file = ray.get(self._files_ref)[path]
        done = ray.get(self._committed_ref).get(file.name, {})
        records = iter_records(f, file.format, self._job.fields, file.name)
        for rows in cut_ranges(records, file.name, self._job.shard_rows):
            if rows.start not in done:
                yield range_table(rows)
            elif done[rows.start] != rows.digest:  # changed during the run
                refuse_changed(file.name, rows.start, rows.end, self._out)


def range_table(rows: RowRange) -> pa.Table:
    """A range as a one-row table (items as JSON, ids as text)."""
    problems = list(zip(*rows.problems)) or [[], [], []]
    return pa.table(
        {
            "file": [rows.file],
            "start": pa.array([rows.start], pa.int64()),
            "end": pa.array([rows.end], pa.int64()),
            "digest": [rows.digest],
            "rows": pa.array([rows.rows], pa.list_(pa.int64())),
            "items": pa.array([[_json(i) for i in rows.items]], pa.list_(pa.string())),
            "ids": pa.array([[id_text(i) for i in rows.ids]], pa.list_(pa.string())),
            "problem_rows": pa.array([list(problems[0])], pa.list_(pa.int64())),
            "problem_ids": pa.array([[id_text(i) for i in problems[1]]], pa.list_(pa.string())),
            "problem_reasons": pa.array([list(problems[2])], pa.list_(pa.string())),
        }
    )


def table_ranges(table: pa.Table, level: str) -> list[RowRange]:
    out = []
    for r in table.to_pylist():
        rows = RowRange(r["file"], r["start"], r["end"], r["digest"])
        rows.rows, rows.ids = r["rows"], r["ids"]
        rows.items = [_unjson(i, level) for i in r["items"]]
        rows.problems = list(zip(r["problem_rows"], r["problem_ids"], r["problem_reasons"]))
        out.append(rows)
    return out


def _json(item: object) -> str:
    return json.dumps(item, ensure_ascii=False, default=repr)


def _unjson(text: str, level: str) -> object:
    item = json.loads(text)
    if level == "word" and isinstance(item, list) and len(item) == 2:
        target = item[1]
        item = (item[0], tuple(target) if isinstance(target, list) else target)
    return item


# --- embedding -------------------------------------------------------------------------------
class EmbedRanges:
    """A Ray Data callable class: loads the model once, then embeds whole ranges."""

    def __init__(self, job: dict, expected: dict, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.job = EmbedJob.from_dict(job)
        gpu = bool(ray.get_gpu_ids()) and torch.cuda.is_available()  # untested: no GPU here
        self.embedder = make_embedder(self.job, device="cuda" if gpu else None)
        mine = self.embedder.describe()
        if mine != expected:  # e.g. a worker with another reba version, or other weights
            difference = config_difference(mine, expected, "on this worker", "on the driver")
            raise RuntimeError(f"this worker's configuration differs: {difference}")

    def __call__(self, batch: pa.Table) -> pa.Table:
        outputs, errors = [], []
        for rows in table_ranges(batch, self.job.level):
            try:
                outputs.append(embed_range(self.embedder, self.job, rows))
                errors.append(None)
            except RangeFailed as failed:  # not written; the driver reports it
                empty = np.zeros((0, self.embedder.dimension), np.float32)
                outputs.append(
                    RangeOutput(rows.file, rows.start, rows.end, rows.digest, [], [], empty)
                )
                errors.append(failed.reason)
        return output_table(outputs, errors)


def output_table(outputs: list[RangeOutput], errors: list[str | None]) -> pa.Table:
    def column(name, kind):
        return pa.array([getattr(o, name) for o in outputs], kind)

    failures = [list(zip(*o.failures)) or [[], [], []] for o in outputs]
    return pa.table(
        {
            "file": column("file", pa.string()),
            "start": column("start", pa.int64()),
            "end": column("end", pa.int64()),
            "digest": column("digest", pa.string()),
            "rows": column("rows", pa.list_(pa.int64())),
            "ids": column("ids", pa.list_(pa.string())),
            "dimension": pa.array([o.embeddings.shape[1] for o in outputs], pa.int64()),
            "embedding": pa.array(
                [np.ascontiguousarray(o.embeddings, np.float32).tobytes() for o in outputs],
                pa.large_binary(),
            ),
            "failure_rows": pa.array([list(f[0]) for f in failures], pa.list_(pa.int64())),
            "failure_ids": pa.array([list(f[1]) for f in failures], pa.list_(pa.string())),
            "failure_reasons": pa.array([list(f[2]) for f in failures], pa.list_(pa.string())),
            "truncated": column("truncated", pa.list_(pa.int64())),
            "error": pa.array(errors, pa.string()),  # null unless the range failed
        }
    )


def table_outputs(table: pa.Table) -> list[tuple[RangeOutput, str | None]]:
    out = []
    for r in table.to_pylist():
        matrix = np.frombuffer(r["embedding"], np.float32).reshape(len(r["rows"]), r["dimension"])
        failures = list(zip(r["failure_rows"], r["failure_ids"], r["failure_reasons"]))
        output = RangeOutput(
            r["file"],
            r["start"],
            r["end"],
            r["digest"],
            r["rows"],
            r["ids"],
            matrix,
            failures,
            r["truncated"],
        )
        out.append((output, r["error"]))
    return out


# --- writing ---------------------------------------------------------------------------------
class RangeDatasink(Datasink):
    """Commits each embedded range as a part of the output folder; returns counts per range,
    and the failed ranges (not written) with their errors."""

    def __init__(self, location: str, config: dict, files: list[InputFile]):
        self.location = location
        self.config = config
        self.fingerprints = {f.name: (f.size, f.mtime_ns) for f in files}
        self.written: list[dict] = []
        self.failed: list[RangeFailed] = []

    def write(self, blocks, ctx) -> list[dict]:
        folder = OutputFolder(self.location)
        counts = []
        for block in blocks:
            for output, error in table_outputs(block):
                if error is not None:
                    failed = {"file": output.file, "start": output.start, "end": output.end}
                    counts.append({**failed, "error": error})
                    continue
                size, mtime = self.fingerprints[output.file]
                meta = {**self.config, "file_size": size, "file_mtime_ns": mtime}
                counts.append(write_part(folder.fs, folder.path, output, meta))
        return counts

    def on_write_complete(self, write_result) -> None:
        counts = {(c["file"], c["start"]): c for r in write_result.write_returns for c in r}
        # a retried write task reports its ranges again
        self.written = [c for c in counts.values() if "error" not in c]
        self.failed = [
            RangeFailed(c["file"], c["start"], c["end"], c["error"])
            for c in counts.values()
            if "error" in c
        ]
