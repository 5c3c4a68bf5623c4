"""``reba embed`` in this process: into one file (as always), or streamed into a folder of parts.

A single-file output (``.npy``, ``.jsonl``, ``.parquet``) holds every vector in memory and is
written at the end, atomically: a job that fails or is killed leaves no file that looks complete.
A folder output is written range by range as each is embedded, in the same layout as the Ray
engine's (``reba.io.parts``), so an interrupted job keeps every completed range and the same
command resumes it; either engine may resume the other's folder.
"""

from __future__ import annotations

import time
from pathlib import Path

from reba.io import read_inputs, write_embeddings
from reba.io.folder import refuse_changed
from reba.io.lock import folder_lock
from reba.io.parts import write_part
from reba.io.ranges import cut_ranges
from reba.io.rows import open_records
from reba.runners.embed_range import embed_range
from reba.runners.job import EmbedJob, make_embedder
from reba.runners.plan import list_files, make_plan, plan_summary, verify_file
from reba.runners.retry import RangeFailed, embed_retrying
from reba.runners.summary import Summary


def run_local(job: EmbedJob) -> Summary:
    """Run ``job`` in this process; return what it did."""
    job.check()
    return run_folder(job) if job.writes_folder else run_single_file(job)


def run_single_file(job: EmbedJob) -> Summary:
    records = read_inputs(
        job.input,
        field=job.field,
        id_field=job.id_field,
        word_field=job.word_field,
        span_field=job.span_field,
    )
    embedder = make_embedder(job)
    start = time.perf_counter()
    end = max(records.rows + list(records.problems), default=-1) + 1
    try:
        result = embed_retrying(embedder, job, records.items, "", 0, end, not job.quiet)
    except RangeFailed as failed:  # nothing is written: a re-run embeds the whole file again
        return Summary(
            items=len(records.rows) + len(records.problems),
            embedded=0,
            truncated=0,
            failed=0,
            seconds=time.perf_counter() - start,
            embedded_now=0,
            destination=f"nothing written to {job.output}",
            failed_ranges=[str(failed)],
        )
    seconds = time.perf_counter() - start
    failures = [{"row": row, "reason": reason} for row, reason in records.problems.items()]
    failures += [{"row": records.rows[f.index], "reason": f.reason} for f in result.failures]
    failures.sort(key=lambda f: f["row"])
    rows = [records.rows[i] for i in result.indices]
    ids = [records.ids[i] for i in result.indices] if records.ids is not None else None
    files = write_embeddings(
        job.output,
        result.embeddings,
        rows=rows,
        ids=ids,
        config={**embedder.describe(), "level": job.level, "input": str(Path(job.input).resolve())},
        failures=failures,
    )
    return Summary(
        items=len(records.rows) + len(records.problems),
        embedded=len(rows),
        truncated=len(result.truncated),
        failed=len(failures),
        seconds=seconds,
        embedded_now=len(rows),
        destination=", ".join(map(str, files)),
        failures=failures,
    )


def run_folder(job: EmbedJob) -> Summary:
    folder, fs, files = list_files(job)
    with folder_lock(folder):
        embedder = make_embedder(job)
        plan, changed = make_plan(job, job.output_config(embedder.describe()), folder, fs, files)
        for file in changed:
            verify_file(fs, file, job, plan.committed_starts(file.name), folder.location)
        folder.clean(plan.committed)
        start = time.perf_counter()
        if not plan.finished():
            with _progress(job) as bar:
                for file in files:
                    _embed_file(plan, embedder, file, bar)
        return plan_summary(plan, time.perf_counter() - start)


def _embed_file(plan, embedder, file, bar) -> None:
    job, folder = plan.job, plan.folder
    done = plan.committed_starts(file.name)
    meta = {**plan.config, "file_size": file.size, "file_mtime_ns": file.mtime_ns}
    records = open_records(plan.input_fs, file.path, file.format, job.fields, file.name)
    for rows in cut_ranges(records, file.name, job.shard_rows):
        if rows.start in done:
            if done[rows.start] != rows.digest:
                refuse_changed(file.name, rows.start, rows.end, folder.location)
        else:
            try:
                output = embed_range(embedder, job, rows)
            except RangeFailed as failed:  # not committed: the next run retries it
                plan.failed.append(failed)
            else:
                plan.written.append(write_part(folder.fs, folder.path, output, meta))
        bar.update(rows.size)


def _progress(job: EmbedJob):
    from tqdm.auto import tqdm

    return tqdm(unit=" rows", disable=job.quiet, desc="reba embed")
