"""Every private Ray API reba uses, in one place, behind a check of Ray's version.

Two things here are not Ray's public API, and may change in any Ray release:

* ``StreamingFileSource``: a Ray Data ``FileBasedDatasource`` whose read tasks open and parse
  files themselves, through its private ``_open_input_source`` and ``_read_stream`` methods;
* ``local_ray_init``: ``ray.init``'s private ``_system_config``, to keep a local Ray's idle
  workers (``num_workers_soft_limit``, ``idle_worker_killing_time_threshold_ms``).

They are tested with the Ray versions in ``TESTED`` (pyproject's ``ray`` extra has the same
bounds); another Ray is refused with a message saying which to install, rather than failing
deep inside a job.
"""

from __future__ import annotations

from collections.abc import Iterator

TESTED = ((2, 60), (2, 61))  # [lowest, first untested): pyproject: ray[data]>=2.60,<2.61
INSTALL = 'pip install "ray[data]>=2.60,<2.61"'


def check_ray_version(version: str) -> None:
    """Raise an ImportError unless ``version`` is a Ray release reba's Ray engine is tested with."""
    try:
        found = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        found = None
    if found is None or not TESTED[0] <= found < TESTED[1]:
        low, high = (".".join(map(str, v)) for v in TESTED)
        raise ImportError(
            f"--engine ray is tested with Ray >= {low}, < {high}, and uses Ray Data APIs that "
            f"other versions may lack; found Ray {version}: install a tested one with {INSTALL}"
        )


def _file_based_datasource():
    from ray.data.datasource import FileBasedDatasource

    return FileBasedDatasource


class StreamingFileSource(_file_based_datasource()):
    """Read tasks that open each file (``open_file``) and yield tables from it (``read_file``)."""

    def open_file(self, filesystem, path: str):
        return filesystem.open_input_stream(path, compression="detect")

    def read_file(self, f, path: str) -> Iterator:
        raise NotImplementedError

    # The private hooks of FileBasedDatasource (Ray 2.60)
    def _open_input_source(self, filesystem, path: str, **open_args):
        return self.open_file(filesystem, path)

    def _read_stream(self, f, path: str):
        yield from self.read_file(f, path)


def local_ray_init(ray, *, num_cpus: int, actors: int, logging_level: int) -> None:
    """Start a local Ray that keeps its idle workers.

    A local Ray keeps as many workers as it has CPUs and kills idle ones after a second. The
    actors fill every CPU, so each read and write task started a fresh worker that imported reba
    and torch again, 4-5 CPU-seconds taken from the actors per task (measured: 768 texts, 2
    actors on 2 cores, 9.9 -> 16.1 texts/s when they are kept). Room for the actors, a reader and
    a writer per actor, and Ray Data's own actors.
    """
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging_level,
        _system_config={
            "num_workers_soft_limit": max(num_cpus, 3 * actors + 4),
            "idle_worker_killing_time_threshold_ms": 600_000,
        },
    )
