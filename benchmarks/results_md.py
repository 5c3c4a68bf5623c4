"""The one writer of ``benchmarks/RESULTS.md``: every benchmark's ``--write`` appends through it."""

from pathlib import Path

HEADER = "# reba benchmark results\n\nSections are appended by the scripts in `benchmarks/`.\n"


def write_section(path: Path, section: str) -> None:
    """Append ``section`` after one blank line (the file is created with a header if missing)."""
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    path.write_text(old.rstrip("\n") + "\n\n" + section, encoding="utf-8")
