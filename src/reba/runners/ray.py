"""``reba embed --engine ray``: embed a corpus on a Ray cluster into a folder of parts.

The driver lists the input files and the committed parts (names, sizes, footers), never rows,
and holds counts, never vectors: reading, embedding and writing all run on the workers
(``ray_stages``), so its memory does not grow with the corpus. It loads no model either: the
configuration is described by a worker. An actor that dies is restarted by Ray and its ranges are
retried; since each range is committed atomically under a fixed name, the output ends complete,
without duplicates. Ray is imported lazily: users of the local engine need not install it.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from reba.io.lock import folder_lock
from reba.runners.job import EmbedJob, make_embedder
from reba.runners.plan import Plan, list_files, make_plan, plan_summary, verify_file
from reba.runners.summary import Summary

INSTALL_HINT = 'pip install "reba[ray]"  (or: pip install "ray[data]>=2.60,<2.61")'
# Reading and writing tasks ask for no CPU: they are light next to an actor's model, and a
# fraction of a CPU could wait forever behind actors that hold every CPU of the cluster.
IO_TASK_CPUS = 0
# Blocks end after every row: a block is one range. Otherwise the ranges a read task yields are
# merged into blocks of up to 128 MiB, each handed whole to one actor and written at its end.
ONE_ROW = 1


@dataclass(frozen=True)
class RayOptions:
    num_actors: int = 2
    cpus_per_actor: float | None = None  # default: a local Ray's CPUs shared out, else 1
    gpus_per_actor: float = 0.0
    address: str | None = None  # join this cluster; default: start a local Ray

    def check(self) -> None:
        if self.num_actors < 1:
            raise ValueError("--num-actors must be >= 1")
        if self.cpus_per_actor is not None and self.cpus_per_actor <= 0:
            raise ValueError("--cpus-per-actor must be > 0")
        if self.gpus_per_actor < 0:
            raise ValueError("--gpus-per-actor must be >= 0")


def import_ray():
    """``ray`` with ``ray.data`` of a tested version, or an ImportError that says what to
    install."""
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise ImportError(
            f"--engine ray needs Ray Data ({err}); install it with {INSTALL_HINT}"
        ) from err
    from reba.runners.ray_compat import check_ray_version

    check_ray_version(ray.__version__)
    return ray


def run_ray(job: EmbedJob, options: RayOptions) -> Summary:
    """Run ``job`` on Ray (joining ``options.address``, or a local Ray started for it)."""
    job.check()
    options.check()
    if not job.writes_folder:
        raise ValueError(
            f"--engine ray writes a folder of Parquet parts; {job.output} names a single file "
            "(give a folder, e.g. emb/)"
        )
    ray = import_ray()  # before any work: a missing Ray is reported at once
    folder, fs, files = list_files(job)
    with folder_lock(folder):
        started, cpus = _start_ray(ray, options, job.quiet)
        try:
            described = _remote(ray, _describe, cpus, options.gpus_per_actor, job)
            plan, changed = make_plan(job, job.output_config(described), folder, fs, files)
            for file in changed:  # usually none: only files whose size or mtime changed
                committed = plan.committed_starts(file.name)
                args = (fs, file, job, committed, folder.location)
                _remote(ray, verify_file, IO_TASK_CPUS, 0, *args)
            folder.clean(plan.committed)
            start = time.perf_counter()
            if not plan.finished():
                _run_pipeline(ray, plan, options, cpus, described)
            return plan_summary(plan, time.perf_counter() - start)
        finally:
            if started:
                ray.shutdown()


def _start_ray(ray, options: RayOptions, quiet: bool) -> tuple[bool, float]:
    """Start or join Ray unless this process already did; return (started, CPUs per actor)."""
    if ray.is_initialized():
        return False, options.cpus_per_actor or 1
    level = logging.WARNING if quiet else logging.INFO
    if options.address is not None:
        ray.init(address=options.address, logging_level=level)
        return True, options.cpus_per_actor or 1
    cpus = options.cpus_per_actor or max(1, (os.cpu_count() or 1) // options.num_actors)
    total = max(1, round(options.num_actors * cpus))
    from reba.runners.ray_compat import local_ray_init

    local_ray_init(ray, num_cpus=total, actors=options.num_actors, logging_level=level)
    return True, cpus


def _describe(job: EmbedJob) -> dict:
    return make_embedder(job).describe()


def _remote(ray, function, cpus: float, gpus: float, *args):
    """``function(*args)`` in a Ray task; its own exception (not Ray's wrapper) if it raises."""
    task = ray.remote(num_cpus=cpus, num_gpus=gpus or None, max_retries=1)(function)
    try:
        return ray.get(task.remote(*args))
    except ray.exceptions.RayTaskError as err:
        _raise_cause(err)


def _raise_cause(err: Exception):
    """A task's own ValueError (bad input, refused folder...) rather than Ray's wrapper."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, (ValueError, TypeError, FileNotFoundError, ImportError)):
        raise cause from None
    raise err


def _run_pipeline(ray, plan: Plan, options: RayOptions, cpus: float, described: dict) -> None:
    context = ray.data.DataContext.get_current()
    if plan.job.quiet:
        context.enable_progress_bars = False
        context.print_on_execution_start = False
    saved, context.target_max_block_size = context.target_max_block_size, ONE_ROW
    try:
        _pipeline(ray, plan, options, cpus, described)
    except ray.exceptions.RayTaskError as err:  # e.g. an input file changed during the run
        _raise_cause(err)
    finally:
        context.target_max_block_size = saved


def _pipeline(ray, plan: Plan, options: RayOptions, cpus: float, described: dict) -> None:
    from reba.runners.ray_stages import EmbedRanges, RangeDatasink, RangeDatasource

    job = plan.job
    committed = {f.name: plan.committed_starts(f.name) for f in plan.files}
    source = RangeDatasource(plan.files, plan.input_fs, job, committed, plan.folder.location)
    # As many reading and writing tasks as actors at most: each is a worker process that
    # imports reba, and a crowd of them starting at once would slow the actors down.
    io_tasks = options.num_actors
    readers = min(io_tasks, len(plan.files))  # a file is read by one task
    dataset = ray.data.read_datasource(
        source, num_cpus=IO_TASK_CPUS, concurrency=readers
    ).map_batches(
        EmbedRanges,
        fn_constructor_kwargs={
            "job": job.as_dict(),
            "expected": described,
            "threads": int(cpus),
        },
        batch_size=1,  # one range per call: a range is never split between actors
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=options.num_actors),
        num_cpus=cpus,
        num_gpus=options.gpus_per_actor or None,
        # Ray Data restarts a dead actor and retries its calls, without limit by default
        # (max_restarts=-1, max_task_retries=-1; passing them here is deprecated in Ray 2.60).
    )
    sink = RangeDatasink(plan.folder.uri, plan.config, plan.files)
    dataset.write_datasink(sink, ray_remote_args={"num_cpus": IO_TASK_CPUS}, concurrency=io_tasks)
    plan.written, plan.failed = sink.written, sink.failed
