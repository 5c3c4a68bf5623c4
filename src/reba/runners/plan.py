"""A folder job's bookkeeping, shared by both engines: what is done, what is to do, the manifest.

Before any embedding: list the input files (names and sizes only), list the committed parts
(footers only), refuse another configuration or a vanished input file, and re-read the files whose
size or modification time changed to compare each committed range's digest (a copied file
passes; an edited one is refused). After: counts per range, from the parts and from the writes,
into ``_reba.json``. Counts, never rows: the planning process does not grow with the corpus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reba.io.files import InputFile, list_inputs
from reba.io.folder import Committed, OutputFolder, check_inputs, refuse_changed
from reba.io.ranges import cut_ranges
from reba.io.rows import open_records
from reba.runners.job import EmbedJob
from reba.runners.retry import RangeFailed
from reba.runners.summary import SHOWN_FAILURES, Summary


@dataclass
class Plan:
    job: EmbedJob
    config: dict
    folder: OutputFolder
    input_fs: object
    files: list[InputFile]
    committed: dict[tuple[str, int], Committed]
    written: list[dict] = field(default_factory=list)  # counts of the ranges written this run
    failed: list[RangeFailed] = field(default_factory=list)  # ranges not written this run

    def committed_starts(self, file: str) -> dict[int, str]:
        """``start -> digest`` of the committed ranges of ``file``."""
        return {s: c.digest for (f, s), c in self.committed.items() if f == file}

    def finished(self) -> bool:
        """True when the manifest of a complete run describes exactly this job and input."""
        manifest = self.folder.read_manifest()
        return (
            manifest is not None
            and manifest.get("complete") is True
            and manifest.get("config") == self.config
            and manifest.get("files") == _file_list(self.files)
            and len(manifest.get("ranges", ())) == len(self.committed)
        )


def list_files(job: EmbedJob) -> tuple[OutputFolder, object, list[InputFile]]:
    """The output folder (checked to be usable) and the input files: before loading a model."""
    folder = OutputFolder(job.output)
    folder.check_usable()
    fs, files = list_inputs(job.input)
    return folder, fs, files


def make_plan(job: EmbedJob, config: dict, folder, fs, files) -> tuple[Plan, list[InputFile]]:
    """The plan, and the files to verify (committed parts, but a changed size or mtime)."""
    committed = folder.committed(config)
    changed = check_inputs(committed, files, folder.location)
    return Plan(job, config, folder, fs, files, committed), changed


def verify_file(fs, file: InputFile, job: EmbedJob, committed: dict[int, str], out: str) -> None:
    """Re-read ``file``; refuse if a committed range's rows differ from what was embedded."""
    records = open_records(fs, file.path, file.format, job.fields, file.name)
    for rows in cut_ranges(records, file.name, job.shard_rows):
        if rows.start in committed and committed[rows.start] != rows.digest:
            refuse_changed(file.name, rows.start, rows.end, out)


def write_manifest(plan: Plan) -> dict:
    """``_reba.json`` of a run: configuration, inputs, counts per range and the ranges that
    failed; raise if rows are missing otherwise (it then says ``"complete": false``)."""
    ranges = {(c.file, c.start): _counts(c) for c in plan.committed.values()}
    ranges.update({(r["file"], r["start"]): r for r in plan.written})
    listed = [ranges[key] for key in sorted(ranges)]
    failed = sorted(
        ({"file": f.file, "start": f.start, "end": f.end, "error": f.reason} for f in plan.failed),
        key=lambda f: (f["file"], f["start"]),
    )
    gaps = _gaps(sorted(listed + failed, key=lambda r: (r["file"], r["start"])))
    manifest = {
        "config": plan.config,
        "input": _shown(plan.job.input),
        "files": _file_list(plan.files),
        "complete": not gaps and not failed,
        "items": sum(r["end"] - r["start"] for r in listed + failed),
        "embedded": sum(r["embedded"] for r in listed),
        "failed": sum(r["failed"] for r in listed),
        "truncated": sum(r["truncated"] for r in listed),
        "ranges": listed,
        "failed_ranges": failed,
    }
    plan.folder.write_manifest(manifest)
    if gaps:  # never seen: a check that every range of every file was written
        raise RuntimeError(
            f"rows missing from {plan.folder.location}: {', '.join(gaps[:5])}; "
            "re-run the same command to embed them"
        )
    return manifest


def _gaps(ranges: list[dict]) -> list[str]:
    """Rows not covered by the ranges (sorted by file and start) of each file."""
    gaps, last = [], {}
    for r in ranges:
        end = last.get(r["file"], 0)
        if r["start"] != end:
            gaps.append(f"{r['file']} rows {end}-{r['start'] - 1}")
        last[r["file"]] = r["end"]
    return gaps


def _counts(c: Committed) -> dict:
    return {
        "file": c.file,
        "start": c.start,
        "end": c.end,
        "embedded": c.embedded,
        "failed": c.failed,
        "truncated": c.truncated,
    }


def _file_list(files: list[InputFile]) -> list[dict]:
    return [{"name": f.name, "size": f.size, "mtime_ns": f.mtime_ns} for f in files]


def _shown(location: str) -> str:
    return location if "://" in location else str(Path(location).resolve())


def plan_summary(plan, seconds: float) -> Summary:
    """The summary of a folder job, from its manifest (written here) and its first failures."""
    manifest = write_manifest(plan)
    return Summary(
        items=manifest["items"],
        embedded=manifest["embedded"],
        truncated=manifest["truncated"],
        failed=manifest["failed"],
        seconds=seconds,
        embedded_now=sum(r["embedded"] for r in plan.written),
        destination=plan.folder.location,
        failures=plan.folder.first_failures(SHOWN_FAILURES),
        listed_in=f"{plan.folder.location}/_failures",
        ranges=(len(plan.written), len(manifest["ranges"]) - len(plan.written)),
        failed_ranges=[str(f) for f in sorted(plan.failed, key=lambda f: (f.file, f.start))],
    )
