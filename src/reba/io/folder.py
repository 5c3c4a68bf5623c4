"""An output folder as a whole: which ranges it holds, whether a re-run may add to it, its manifest.

The committed parts are the truth: a re-run lists them (reading footers, never rows), refuses a
folder made with another configuration or from changed input, and skips the ranges already
there. ``_reba.json`` summarises a finished run (configuration, input files, counts per range);
it is rewritten only when its content changes, so re-running a finished job touches nothing.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reba.io.files import InputFile, resolve
from reba.io.parts import FAILURES, is_part, part_config, read_part_meta

MANIFEST = "_reba.json"


@dataclass(frozen=True)
class Committed:
    """A range whose part is in the folder."""

    file: str
    start: int
    end: int
    digest: str
    file_size: int | None
    file_mtime_ns: int | None
    embedded: int
    failed: int
    truncated: int


class OutputFolder:
    """A folder of parts on a pyarrow filesystem (local path or URI)."""

    def __init__(self, location: str):
        self.location = location
        self.fs, self.path = resolve(location)
        self.path = self.path.rstrip("/")

    @property
    def uri(self) -> str:
        """The folder as any process can open it (a local path made absolute)."""
        return self.location if "://" in self.location else self.path

    def check_usable(self) -> None:
        import pyarrow.fs as pafs

        if self.fs.get_file_info(self.path).type == pafs.FileType.File:
            raise ValueError(f"--output {self.location} is a file; a folder of parts is needed")

    def create(self) -> None:
        self.fs.create_dir(self.path, recursive=True)

    def committed(self, config: dict) -> dict[tuple[str, int], Committed]:
        """The ranges already written, by ``(file, start)``; refuse another configuration."""
        names = [n for n in self._names(self.path) if is_part(n)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            metas = list(pool.map(self._meta, names))
        found = {}
        for name, meta in zip(names, metas):
            if meta is None:  # unreadable: never committed completely, recompute it
                continue
            refuse_other_config(f"{self.location}/{name}", self.location, config, meta)
            done = Committed(
                file=meta["range"]["file"],
                start=meta["range"]["start"],
                end=meta["range"]["end"],
                digest=meta["input_digest"],
                file_size=meta.get("file_size"),
                file_mtime_ns=meta.get("file_mtime_ns"),
                embedded=meta["embedded"],
                failed=meta["failed"],
                truncated=meta["truncated"],
            )
            found[done.file, done.start] = done
        return found

    def clean(self, committed: dict[tuple[str, int], Committed]) -> None:
        """Drop what an interrupted run left: temporary files, and failures of ranges whose
        part was never committed (a re-run writes them again)."""
        from reba.io.parts import part_name

        kept = {part_name(c.file, c.start, c.end) for c in committed.values()}
        for name in self._names(self.path):
            if name.startswith(".") and name.endswith(".tmp"):
                self.fs.delete_file(f"{self.path}/{name}")
        failures = f"{self.path}/{FAILURES}"
        for name in self._names(failures):
            if name.endswith(".tmp") or (is_part(name) and name not in kept):
                self.fs.delete_file(f"{failures}/{name}")

    def read_manifest(self) -> dict | None:
        try:
            with self.fs.open_input_stream(f"{self.path}/{MANIFEST}") as f:
                return json.loads(f.read().decode("utf-8"))
        except (FileNotFoundError, OSError, ValueError):
            return None

    def write_manifest(self, manifest: dict) -> None:
        """Write ``_reba.json`` unless it already says exactly this."""
        if self.read_manifest() == json.loads(json.dumps(manifest)):
            return
        text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
        tmp = f"{self.path}/.{MANIFEST}.{uuid.uuid4().hex[:12]}.tmp"  # two writers never share it
        with self.fs.open_output_stream(tmp) as f:
            f.write(text.encode("utf-8"))
        self.fs.move(tmp, f"{self.path}/{MANIFEST}")

    def first_failures(self, limit: int) -> list[dict]:
        """Up to ``limit`` failure records, in file and row order (for the summary)."""
        import pyarrow.parquet as pq

        shown: list[dict] = []
        for name in sorted(n for n in self._names(f"{self.path}/{FAILURES}") if is_part(n)):
            with self.fs.open_input_file(f"{self.path}/{FAILURES}/{name}") as f:
                shown += pq.read_table(f).slice(0, limit - len(shown)).to_pylist()
            if len(shown) >= limit:
                break
        return shown

    def _meta(self, name: str) -> dict | None:
        try:
            return read_part_meta(self.fs, f"{self.path}/{name}")
        except (OSError, KeyError, ValueError):
            return None

    def _names(self, folder: str) -> list[str]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(folder, recursive=False, allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.File)


_ABSENT = object()


def config_difference(mine: dict, theirs: dict, here: str = "now", there: str = "there") -> str:
    """Every field whose value differs (or is recorded on one side only), with both values;
    fields of nested dicts by their dotted names (``embedder_config.layer``)."""
    mine, theirs = _flat(mine), _flat(theirs)
    keys = sorted(set(mine) | set(theirs))

    def shown(d: dict, k: str) -> str:
        value = d.get(k, _ABSENT)
        return "(not recorded)" if value is _ABSENT else repr(value)

    return "; ".join(
        f"{k}: {shown(mine, k)} {here}, {shown(theirs, k)} {there}"
        for k in keys
        if mine.get(k, _ABSENT) != theirs.get(k, _ABSENT)
    )


def _flat(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def refuse_other_config(what: str, out: str, config: dict, meta: dict) -> None:
    """Refuse a part made with a configuration that differs from ``config`` in any field."""
    theirs = part_config(meta)
    if theirs != config:
        raise ValueError(
            f"{what} was made with a different configuration "
            f"({config_difference(config, theirs)}); refusing to mix embeddings in {out}: "
            "use another --output folder, or delete it"
        )


def check_inputs(
    committed: dict[tuple[str, int], Committed], files: list[InputFile], out: str
) -> list[InputFile]:
    """Refuse parts of files no longer in the input; return the files with parts whose size or
    modification time changed since (their rows must be re-read and compared)."""
    by_name = {f.name: f for f in files}
    stale = sorted({c.file for c in committed.values()} - set(by_name))
    if stale:
        raise ValueError(
            f"{out} holds embeddings of {stale[0]!r}, which is no longer in the input; "
            "use another --output folder, or delete it"
        )
    changed = {
        c.file
        for c in committed.values()
        if (c.file_size, c.file_mtime_ns) != (by_name[c.file].size, by_name[c.file].mtime_ns)
    }
    return [by_name[name] for name in sorted(changed)]


def refuse_changed(file: str, start: int, end: int, out: str) -> None:
    raise ValueError(
        f"input rows {start}-{end - 1} of {file} changed since they were embedded into {out}; "
        "use another --output folder, or delete it"
    )
