"""A test-only hook that makes embedding a range raise: how the fault tests inject errors that
are not about an item into a real ``reba embed`` process. Never set it in production.

``REBA_TEST_FAULT`` holds comma-separated ``<kind>@<row>`` entries; each applies to the range
(or single-file job) holding input row ``<row>``:

* ``once@<row>``: the first attempt raises (in each process), the retry succeeds;
* ``always@<row>``: every attempt raises, so the range fails;
* ``oom@<row>``: raises an out-of-memory error while the batch holds more than one row;
* ``sleep@<ms>``: every range first waits ``<ms>`` milliseconds (paces a job, so that a test
  can kill it mid-run however fast the machine).
"""

from __future__ import annotations

import os
import time

ENV = "REBA_TEST_FAULT"
_raised: set[str] = set()  # the "once" faults already raised by this process


class InjectedFault(RuntimeError):
    """The error raised by the hook."""


def inject(start: int, end: int, batch_size: int) -> None:
    """Raise if ``REBA_TEST_FAULT`` asks for it for rows ``[start, end)``; else do nothing."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    for entry in spec.split(","):
        kind, _, row = entry.strip().partition("@")
        if kind == "sleep" and row.isdigit():
            time.sleep(int(row) / 1000)
            continue
        if not row.isdigit() or not start <= int(row) < end:
            continue
        if kind == "always" or (kind == "once" and entry not in _raised):
            _raised.add(entry)
            raise InjectedFault(f"injected fault ({ENV}={entry})")
        if kind == "oom" and batch_size > 1:
            import torch

            raise torch.OutOfMemoryError(f"injected out of memory at batch size {batch_size}")
