"""What a run did, as counts, and the lines ``reba embed`` prints about it on stderr."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

SHOWN_FAILURES = 20


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

    @property
    def exit_code(self) -> int:
        return 0 if self.embedded or not self.failed else 1

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
            return
        computed, skipped = self.ranges
        print(
            f"{counts}; {computed + skipped} shards: {computed} computed, {skipped} skipped "
            f"(already written); {self.seconds:.1f} s, {rate:.1f} texts/s "
            f"({self.embedded_now} embedded this run) -> {self.destination}",
            file=out,
        )
