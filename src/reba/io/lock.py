"""One job at a time per output folder: a lock file, ``.reba.lock``, held while a job runs.

Two jobs appending to one folder would race on its parts and its manifest, so a second job is
refused at once, with a message naming the holder (its host, process id and start time, written
into the lock file). The lock is an OS file lock (``filelock``): it goes with the process that
held it, even one killed with SIGKILL, so a killed job never leaves the folder locked. Object
stores (``s3://``, ``gs://``...) have no file locks: there, nothing stops a second job; each
part is still written whole under a name fixed by its range, and the manifest under a unique
temporary name, but running one job per folder is up to the user.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator

from reba.io.folder import OutputFolder

logger = logging.getLogger(__name__)

LOCK = ".reba.lock"


class FolderLockedError(ValueError):
    """Another job holds the output folder."""


@contextlib.contextmanager
def folder_lock(folder: OutputFolder) -> Iterator[None]:
    """Hold ``folder``'s lock (creating the folder) while the block runs; refuse if held."""
    folder.create()
    if folder.fs.type_name != "local":
        logger.warning(
            "%s: no lock on %s folders; make sure no other job writes to it",
            folder.location,
            folder.fs.type_name,
        )
        yield
        return
    from filelock import FileLock, Timeout

    path = os.path.join(folder.path, LOCK)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise FolderLockedError(
            f"{folder.location} is being written by another reba job ({_holder(path)}); wait "
            "for it to finish, or use another --output folder"
        ) from None
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": _now()}, f)
        yield
    finally:
        lock.release()


def _holder(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
        return f"process {holder['pid']} on {holder['host']}, since {holder['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
