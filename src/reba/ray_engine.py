"""``reba embed --engine ray``: embed a corpus with a Ray Data actor pool, into a folder.

The input is read on the driver with reba's own reader (so row numbers, ids and bad-row reports
are exactly those of the local engine) and cut into fixed shards of ``--shard-rows`` input rows.
Shards whose file already exists in the output folder (made with the same configuration from
the same input rows) are skipped; the rest go through ``map_batches`` on a pool of actors, each
loading the model once. The driver gathers the results per shard and writes each shard, once
complete, as ``part-<start>-<end>.parquet`` (tmp name, then rename), so an interrupted run
resumes where it stopped. ``_reba.json`` holds the configuration, counts and failures.

Ray is imported lazily: users of the local engine need not install it.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reba.cli.embed import print_skipped, read_records
from reba.cli.options import make_embedder

INSTALL_HINT = 'pip install "reba[ray]"  (or: pip install "ray[data]")'
MANIFEST = "_reba.json"
_PART = re.compile(r"^part-(\d+)-(\d+)\.parquet$")


def import_ray():
    """``ray`` and ``ray.data``, or an ImportError that says how to install them."""
    try:
        import ray
        import ray.data
    except ImportError as err:
        raise ImportError(
            f"--engine ray needs Ray Data ({err}); install it with {INSTALL_HINT}"
        ) from err
    return ray


def shard_name(start: int, end: int) -> str:
    return f"part-{start:010d}-{end:010d}.parquet"


@dataclass
class Shard:
    start: int  # first input row
    end: int  # one past the last input row
    positions: range  # positions in InputRecords.items of its embeddable rows
    digest: str = ""  # hash of its input rows, to notice a changed input
    embedded: int = 0
    failures: list[dict] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return shard_name(self.start, self.end)


# --- the actor -------------------------------------------------------------------------------
class EmbedBatches:
    """A Ray Data callable class: loads the model once, then embeds one batch per call."""

    def __init__(self, options: argparse.Namespace, config: dict, threads: int):
        import torch

        torch.set_num_threads(max(1, threads))
        self.embedder = make_embedder(options)
        self.level = config["level"]
        self.batch_size = options.batch_size
        self.normalize = options.normalize
        self.packing = options.packing
        mine = self.embedder.describe()
        wanted = {key: config[key] for key in mine}
        if mine != wanted:  # e.g. a worker with another reba version, or other weights
            raise RuntimeError(f"worker's configuration {mine} differs from the driver's {wanted}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = np.asarray(batch["row"], dtype=np.int64)
        items = [decode_item(text, self.level) for text in batch["item"]]
        result = self.embedder.embed(
            items,
            level=self.level,
            batch_size=self.batch_size,
            normalize=self.normalize,
            show_progress_bar=False,
            packing=self.packing,
        )
        n, dimension = len(rows), self.embedder.dimension
        embeddings = np.zeros((n, dimension), dtype=np.float32)
        ok = np.zeros(n, dtype=bool)
        if len(result.indices):
            embeddings[result.indices] = result.embeddings
            ok[result.indices] = True
        reasons = [""] * n
        for failure in result.failures:
            reasons[failure.index] = failure.reason
        truncated = np.zeros(n, dtype=bool)
        truncated[list(result.truncated)] = True
        return {
            "row": rows,
            "ok": ok,
            "embedding": embeddings,
            "reason": np.array(reasons, dtype=object),
            "truncated": truncated,
        }


def encode_item(item: object) -> str:
    """An input item as JSON text (a column type every Ray Data block format holds)."""
    return json.dumps(item, ensure_ascii=False, default=repr)


def decode_item(text: str, level: str) -> object:
    item = json.loads(text)
    if level == "word" and isinstance(item, list) and len(item) == 2:
        target = item[1]
        item = (item[0], tuple(target) if isinstance(target, list) else target)
    return item


# --- the driver ------------------------------------------------------------------------------
def run_ray(args: argparse.Namespace) -> int:
    """The ``--engine ray`` path of ``reba embed``."""
    for name in ("num_actors", "shard_rows", "batch_size"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1")
    if args.cpus_per_actor is not None and args.cpus_per_actor < 1:
        raise ValueError("--cpus-per-actor must be >= 1")
    ray = import_ray()  # before any work: a missing Ray is reported at once
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--engine ray writes a folder of Parquet shards; {out} is a file")

    records, level = read_records(args)
    embedder = make_embedder(args)  # validates the options and the model before Ray starts
    config = {
        **embedder.describe(),
        "level": level,
        "field": args.field,
        "id_field": args.id_field if records.ids is not None else None,
        "word_field": args.word_field,
        "span_field": args.span_field,
        "normalize": bool(args.normalize),
        "shard_rows": args.shard_rows,
    }
    dimension = embedder.dimension
    del embedder  # the actors load their own copy

    total = len(records.rows) + len(records.problems)
    shards = plan_shards(records, total, args.shard_rows)
    _check_manifest(out, config)
    pending = _pending_shards(out, shards, config)
    skipped = len(shards) - len(pending)
    id_type = _id_type(records.ids)

    start = time.perf_counter()
    embedded_now = 0
    out.mkdir(parents=True, exist_ok=True)
    for shard in [s for s in pending if not s.positions]:  # only bad rows: nothing to embed
        _finish_shard(out, shard, records, config, [], np.zeros((0, dimension)), id_type)
    work = [s for s in pending if s.positions]
    if work:
        embedded_now = _run_pipeline(ray, args, out, work, records, config, dimension, id_type)
    seconds = time.perf_counter() - start

    manifest = _write_manifest(out, config, args.input, shards, total)
    _summary(manifest, len(shards), len(pending), skipped, embedded_now, seconds, out)
    return 0 if manifest["embedded"] or not manifest["failures"] else 1


def plan_shards(records, total: int, shard_rows: int) -> list[Shard]:
    """Fixed row ranges ``[start, end)`` over the input rows, with their embeddable items."""
    shards = []
    for begin in range(0, total, shard_rows):
        end = min(begin + shard_rows, total)
        lo, hi = bisect.bisect_left(records.rows, begin), bisect.bisect_left(records.rows, end)
        shard = Shard(begin, end, range(lo, hi))
        problems = {r: p for r, p in records.problems.items() if begin <= r < end}
        content = {
            "rows": records.rows[lo:hi],
            "items": [encode_item(records.items[i]) for i in shard.positions],
            "ids": None if records.ids is None else [repr(records.ids[i]) for i in shard.positions],
            "problems": sorted(problems.items()),
        }
        shard.digest = hashlib.sha256(
            json.dumps(content, ensure_ascii=False, default=repr).encode()
        ).hexdigest()
        shards.append(shard)
    return shards


def _config_difference(mine: dict, theirs: dict) -> str:
    keys = sorted(set(mine) | set(theirs))
    return "; ".join(
        f"{k}: {mine.get(k)!r} now, {theirs.get(k)!r} there"
        for k in keys
        if mine.get(k) != theirs.get(k)
    )


def _refuse_config(out: Path, what: str, mine: dict, theirs: dict) -> None:
    raise ValueError(
        f"{what} was made with a different configuration ({_config_difference(mine, theirs)}); "
        f"refusing to mix embeddings in {out}: use another --output folder, or delete it"
    )


def _check_manifest(out: Path, config: dict) -> None:
    path = out / MANIFEST
    if not path.exists():
        return
    try:
        theirs = json.loads(path.read_text(encoding="utf-8"))["config"]
    except (ValueError, KeyError) as err:
        raise ValueError(f"{path} is not a reba manifest ({err}); use another --output") from err
    if theirs != config:
        _refuse_config(out, str(path), config, theirs)


def _pending_shards(out: Path, shards: list[Shard], config: dict) -> list[Shard]:
    """The shards still to compute; refuse if the folder holds shards of another run."""
    import pyarrow.parquet as pq

    if not out.is_dir():
        return list(shards)
    by_name = {s.name: s for s in shards}
    strangers = sorted(
        p.name for p in out.iterdir() if _PART.match(p.name) and p.name not in by_name
    )
    if strangers:
        raise ValueError(
            f"{out} holds shards that do not match this input's row ranges ({strangers[0]}, ...):"
            " the input or --shard-rows changed; use another --output folder, or delete it"
        )
    pending = []
    for shard in shards:
        path = out / shard.name
        try:
            meta = json.loads(pq.read_schema(path).metadata[b"reba"])
        except (OSError, KeyError, TypeError, ValueError):  # missing or unreadable: recompute
            pending.append(shard)
            continue
        theirs = {k: meta.get(k) for k in config}
        if theirs != config:
            _refuse_config(out, str(path), config, theirs)
        if meta.get("input_digest") != shard.digest:
            raise ValueError(
                f"input rows {shard.start}-{shard.end - 1} changed since {path} was written; "
                "use another --output folder, or delete it"
            )
        shard.embedded = meta["rows"]
        shard.failures = meta["failures"]
        shard.truncated = meta.get("truncated", [])
    return pending


def _id_type(ids):
    """One Arrow type for the id column of every shard (so the folder reads as one table)."""
    if ids is None:
        return None
    import pyarrow as pa

    try:
        return pa.array(ids).type
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
        return pa.string()


def _run_pipeline(ray, args, out, work, records, config, dimension, id_type) -> int:
    """Embed the shards in ``work`` with an actor pool; write each shard once it is complete."""
    started = False
    if not ray.is_initialized():
        local = args.address is None
        per_actor = args.cpus_per_actor or (
            max(1, (os.cpu_count() or 1) // args.num_actors) if local else 1
        )
        options = {"logging_level": logging.WARNING if args.quiet else logging.INFO}
        if local:
            ray.init(num_cpus=args.num_actors * per_actor, include_dashboard=False, **options)
        else:
            ray.init(address=args.address, **options)
        started = True
    else:
        per_actor = args.cpus_per_actor or 1
    try:
        context = ray.data.DataContext.get_current()
        if args.quiet:
            context.enable_progress_bars = False
            context.print_on_execution_start = False
        items = [
            {"row": records.rows[i], "item": encode_item(records.items[i])}
            for shard in work
            for i in shard.positions
        ]
        options = argparse.Namespace(**{k: v for k, v in vars(args).items() if not callable(v)})
        dataset = ray.data.from_items(items).map_batches(
            EmbedBatches,
            fn_constructor_args=(options, config, per_actor),
            batch_size=args.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=args.num_actors),
            num_cpus=per_actor,
        )
        del items
        return _collect(dataset, out, work, records, config, dimension, id_type)
    finally:
        if started:
            ray.shutdown()


def _collect(dataset, out, work, records, config, dimension, id_type) -> int:
    starts = [s.start for s in work]
    expected = {s.start: len(s.positions) for s in work}
    gathered: dict[int, list] = {s.start: [] for s in work}
    seen = dict.fromkeys(expected, 0)
    embedded = 0
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for j in range(len(batch["row"])):
            row = int(batch["row"][j])
            shard = work[bisect.bisect_right(starts, row) - 1]
            gathered[shard.start].append(
                (
                    row,
                    bool(batch["ok"][j]),
                    batch["embedding"][j],
                    str(batch["reason"][j]),
                    bool(batch["truncated"][j]),
                )
            )
            seen[shard.start] += 1
            if seen[shard.start] == expected[shard.start]:
                done = sorted(gathered.pop(shard.start), key=lambda r: r[0])
                matrix = np.array([r[2] for r in done if r[1]], dtype=np.float32)
                _finish_shard(
                    out, shard, records, config, done, matrix.reshape(-1, dimension), id_type
                )
                embedded += shard.embedded
    if gathered:
        missing = ", ".join(shard_name(s, s + 1) for s in gathered)
        raise RuntimeError(f"the pipeline ended before these shards were complete: {missing}")
    return embedded


def _finish_shard(out, shard, records, config, done, matrix, id_type) -> None:
    """Write one complete shard: rows, ids, embeddings, and its failures in the metadata."""
    problems = [
        {"row": r, "reason": p} for r, p in records.problems.items() if shard.start <= r < shard.end
    ]
    failures = problems + [{"row": r[0], "reason": r[3]} for r in done if not r[1]]
    failures.sort(key=lambda f: f["row"])
    rows = [r[0] for r in done if r[1]]
    shard.embedded, shard.failures = len(rows), failures
    shard.truncated = [r[0] for r in done if r[4]]
    ids = None
    if records.ids is not None:
        index = (
            np.searchsorted(
                np.asarray(records.rows[shard.positions.start : shard.positions.stop]), rows
            )
            + shard.positions.start
        )
        ids = [records.ids[int(i)] for i in index]
    meta = {
        **config,
        "shard": [shard.start, shard.end],
        "input_digest": shard.digest,
        "rows": len(rows),
        "failures": failures,
        "truncated": shard.truncated,
    }
    _write_parquet_atomic(out / shard.name, matrix, rows, ids, id_type, meta)


def _write_parquet_atomic(path: Path, matrix, rows, ids, id_type, meta) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = pa.array(np.asarray(matrix, dtype=np.float32).reshape(-1), pa.float32())
    columns = {"row": pa.array(rows, pa.int64())}
    if ids is not None:
        columns["id"] = pa.array(
            [str(i) if id_type == pa.string() and i is not None else i for i in ids], id_type
        )
    columns["embedding"] = pa.FixedSizeListArray.from_arrays(flat, int(meta["dimension"]))
    table = pa.table(columns).replace_schema_metadata(
        {"reba": json.dumps(meta, ensure_ascii=False)}
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_manifest(out: Path, config: dict, source, shards: list[Shard], total: int) -> dict:
    """``_reba.json``: rewritten only when its content changes (a no-op run writes nothing)."""
    failures = sorted((f for s in shards for f in s.failures), key=lambda f: f["row"])
    manifest = {
        "config": config,
        "input": str(Path(source).resolve()),
        "items": total,
        "embedded": sum(s.embedded for s in shards),
        "truncated": sum(len(s.truncated) for s in shards),
        "failed": len(failures),
        "shards": [
            {
                "file": s.name,
                "rows": [s.start, s.end],
                "embedded": s.embedded,
                "failed": len(s.failures),
            }
            for s in shards
        ],
        "failures": failures,
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=1) + "\n"
    path = out / MANIFEST
    out.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return manifest


def _summary(manifest, shards, computed, skipped, embedded_now, seconds, out) -> None:
    err = sys.stderr
    failures = manifest["failures"]
    print_skipped(failures, str(out / MANIFEST))
    rate = embedded_now / seconds if seconds > 0 else float("inf")
    print(
        f"reba embed: {manifest['items']} items, {manifest['embedded']} embedded, "
        f"{manifest['truncated']} truncated, {len(failures)} failed; "
        f"{shards} shards: {computed} computed, {skipped} skipped (already written); "
        f"{seconds:.1f} s, {rate:.1f} texts/s ({embedded_now} embedded this run) -> {out}",
        file=err,
    )
