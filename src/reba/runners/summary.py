"""What a run did, as counts, and the lines ``reba embed`` prints about it on stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

SHOWN_FAILURES = 20
# What ``reba embed`` exits with, the same for every engine (2: refused before any work, as
# every reba command; 1: a crash).
EXIT_ALL_EMBEDDED = 0
EXIT_ROWS_SKIPPED = 3  # done; some rows were bad input, listed as failures
EXIT_RANGES_FAILED = 4  # some ranges failed (not about their rows) and were not written


@dataclass
class Summary:
    items: int  # input rows
    embedded: int
    truncated: int
    failed: int
    seconds: float
    embedded_now: int  # embedded by this run (a resumed run skips the rest)
    destination: str
    failures: list[dict] = field(default_factory=list)  # the first ones: file?, row, reason
    listed_in: str = "the output's metadata"
    ranges: tuple[int, int] | None = None  # folder outputs: (computed now, skipped)
    failed_ranges: list[str] = field(default_factory=list)  # "<file> rows a-b: error", unwritten

    @property
    def exit_code(self) -> int:
        if self.failed_ranges:
            return EXIT_RANGES_FAILED
        return EXIT_ROWS_SKIPPED if self.failed else EXIT_ALL_EMBEDDED

    def print(self, out=None) -> None:
        out = out or sys.stderr
        for f in self.failures[:SHOWN_FAILURES]:
            where = f"{f['file']} row {f['row']}" if f.get("file") else f"row {f['row']}"
            print(f"  skipped {where}: {f['reason']}", file=out)
        if self.failed > SHOWN_FAILURES:
            more = self.failed - SHOWN_FAILURES
            print(f"  ... and {more} more (listed in {self.listed_in})", file=out)
        rate = self.embedded_now / self.seconds if self.seconds > 0 else float("inf")
        counts = (
            f"reba embed: {self.items} items, {self.embedded} embedded, {self.truncated} "
            f"truncated, {self.failed} failed"
        )
        if self.ranges is None:
            print(
                f"{counts}, {self.seconds:.1f} s, {rate:.1f} texts/s -> {self.destination}",
                file=out,
            )
            self._print_failed_ranges(out)
            return
        computed, skipped = self.ranges
        failed = len(self.failed_ranges)
        shards = f"{computed + skipped + failed} shards: {computed} computed, {skipped} skipped"
        print(
            f"{counts}; {shards} (already written){f', {failed} FAILED' if failed else ''}; "
            f"{self.seconds:.1f} s, {rate:.1f} texts/s "
            f"({self.embedded_now} embedded this run) -> {self.destination}",
            file=out,
        )
        self._print_failed_ranges(out)

    def _print_failed_ranges(self, out) -> None:
        for where in self.failed_ranges[:SHOWN_FAILURES]:
            print(f"  FAILED {where}", file=out)
        if self.failed_ranges:
            print(
                f"reba embed: {len(self.failed_ranges)} range(s) failed and were not written; "
                "re-run the same command to retry them",
                file=out,
            )
