"""Which files an ``--input`` names: a file, a folder, or a glob, on any pyarrow filesystem.

Only names, sizes and modification times are read here (a listing), never rows, so the process
that plans a job does not grow with the corpus. Each file gets a ``name`` relative to the input
root: it is the ``file`` column of the outputs and part of their file names, so a corpus moved to
another mount or bucket keeps its identity.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import PurePosixPath

INPUT_FORMATS = (".txt", ".jsonl", ".csv", ".parquet")
COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")  # text formats only; pyarrow detects them
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    """One input file: where it is, what it is called in the outputs, and its fingerprint."""

    path: str  # as its filesystem names it (an absolute local path, or bucket/key)
    name: str  # relative to the input root, with "/" separators
    format: str  # one of INPUT_FORMATS
    size: int
    mtime_ns: int | None

    @property
    def compressed(self) -> bool:
        return PurePosixPath(self.path).suffix.lower() in COMPRESSIONS


def resolve(location: str):
    """``(filesystem, path)`` for a local path or a URI (``s3://``, ``gs://``, ``file://``...)."""
    import pyarrow.fs as pafs

    if "://" in location:
        return pafs.FileSystem.from_uri(location)
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(location))


def input_format(path: str) -> str | None:
    """The format of ``path`` from its suffix (``.jsonl.gz`` is JSONL), or None."""
    pure = PurePosixPath(path)
    suffixes = [s.lower() for s in pure.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
        if suffixes and suffixes[-1] == ".parquet":
            return None  # parquet compresses inside the file
    return suffixes[-1] if suffixes and suffixes[-1] in INPUT_FORMATS else None


def list_inputs(location: str):
    """``(filesystem, files)``: the readable files ``location`` names, sorted by name.

    A folder is listed recursively (names starting with ``.`` or ``_`` are skipped, as Ray Data
    and pyarrow do); a glob matches ``*``, ``?`` and ``[...]`` against paths below the part of
    the pattern without wildcards (``*`` also crosses ``/``).
    """
    import pyarrow.fs as pafs

    if _is_glob(location):
        base, pattern = _split_glob(location)
        fs, root = resolve(base)
        infos = _walk(fs, root)
        infos = [i for i in infos if fnmatch.fnmatchcase(_relative(i.path, root), pattern)]
        what = f"no input files match {location!r}"
    else:
        fs, root = resolve(location)
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.NotFound:
            raise FileNotFoundError(f"input file not found: {location}")
        if info.type == pafs.FileType.File:
            return fs, [_input_file(info, PurePosixPath(root).name, strict=True)]
        infos = _walk(fs, root)
        what = f"no {'/'.join(INPUT_FORMATS)} files in the folder {location}"
    files = [_input_file(i, _relative(i.path, root)) for i in infos]
    files = sorted((f for f in files if f is not None), key=lambda f: f.name)
    if not files:
        raise FileNotFoundError(what)
    return fs, files


def _input_file(info, name: str, strict: bool = False) -> InputFile | None:
    fmt = input_format(info.path)
    if fmt is None:
        if strict:
            raise ValueError(
                f"{info.path}: unsupported input format; use one of {INPUT_FORMATS} "
                f"(text formats may end in {'/'.join(COMPRESSIONS)})"
            )
        return None
    return InputFile(info.path, name, fmt, int(info.size), info.mtime_ns)


def _walk(fs, root: str) -> list:
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    infos = [i for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]
    return [i for i in infos if not _hidden(_relative(i.path, root))]


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/"))


def _relative(path: str, root: str) -> str:
    root = root.rstrip("/")
    return path[len(root) + 1 :] if path.startswith(root + "/") else PurePosixPath(path).name


def _is_glob(location: str) -> bool:
    return any(c in _GLOB_CHARS for c in location.split("://", 1)[-1])


def _split_glob(location: str) -> tuple[str, str]:
    """``("data/2024", "*/part-*.jsonl")`` for ``"data/2024/*/part-*.jsonl"``."""
    scheme, _, rest = location.rpartition("://")
    parts = rest.split("/")
    first = next(i for i, p in enumerate(parts) if any(c in _GLOB_CHARS for c in p))
    base = "/".join(parts[:first]) or ("/" if rest.startswith("/") else ".")
    if scheme:
        base = f"{scheme}://{base}"
    return base, "/".join(parts[first:])
