"""Run a sweep: every (method, k, layer) configuration on every task, each input embedded once.

Per level (word, sentence) the inputs of all tasks are pooled and de-duplicated; what the cache
lacks is embedded in chunks, with all configurations that share an input sharing its forward
pass (``reba.embed_configs``), and stored after each chunk so an interrupted run resumes.
Then each configuration is scored on each task from the cache.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from reba.engine import check_method, embed_configs, progress_bar
from reba.eval.cache import EmbeddingCache, input_key, model_identity
from reba.eval.evaluators import Input, TaskScore, WordInput, evaluator_for
from reba.eval.tasks import Task, load_task, load_task_specs
from reba.methods import WORD_READOUTS, EmbeddingConfig, Level, parse_method
from reba.models import LoadedModel, cache_dir

CHUNK = 256  # inputs embedded (and cached) per step


def sweep_configs(
    methods: Sequence[str],
    ks: Sequence[int],
    layers: Sequence[int | None],
    level: Level,
    preprocess: str | None = None,
) -> list[EmbeddingConfig]:
    """Every configuration of the sweep that exists at ``level``.

    Methods that do not repeat the text run at k=1 only; methods without a word-level form
    are left out at word level; ``reba+prefix`` is the sentence ReBA with the special-prefix
    rows included (the authors' variant). A layer of ``None`` is each method's own.
    """
    configs = []
    for name in methods:
        base, prefix = (
            (name[: -len("+prefix")], True) if name.endswith("+prefix") else (name, False)
        )
        recipe = parse_method(base).recipe  # raises for an unknown name, at once
        if level == "word" and (prefix or recipe.readout not in WORD_READOUTS):
            continue
        for k in ks if recipe.repeats else [1]:
            for layer in layers:
                configs.append(EmbeddingConfig(base, k, layer, prefix, preprocess))
    return list(dict.fromkeys(configs))


def run_sweep(
    lm: LoadedModel,
    task_names: Sequence[str],
    data_dir: str | Path,
    *,
    methods: Sequence[str],
    ks: Sequence[int],
    layers: Sequence[int | None] = (None,),
    preprocess: str | None = None,
    batch_size: int = 16,
    max_length: int | None = None,
    cache_path: str | Path | None = None,
    show_progress_bar: bool | None = None,
) -> dict:
    """Embed and score; returns the ``results.json`` document (see ``reba.eval.report``)."""
    specs = load_task_specs(data_dir)
    tasks = [load_task(data_dir, name) for name in task_names or specs]
    cache = EmbeddingCache(cache_path or cache_dir() / "embeddings.sqlite")
    model = model_identity(lm)
    limit = max_length or lm.max_length
    rows, timings = [], {}
    try:
        for level in ("word", "sentence"):
            level_tasks = [t for t in tasks if t.spec.level == level]
            configs = sweep_configs(methods, ks, layers, level, preprocess)
            if not level_tasks or not configs:
                continue
            prints = {cfg: check_method(lm, cfg, level).fingerprint() for cfg in configs}
            start = time.perf_counter()
            inputs = _unique_inputs(level_tasks)
            embedded = _fill_cache(
                lm, cache, model, limit, prints, inputs, level, batch_size, show_progress_bar
            )
            timings[f"{level}_embedding_seconds"] = round(time.perf_counter() - start, 1)
            timings[f"{level}_inputs_embedded"] = embedded
            start = time.perf_counter()
            for cfg in configs:
                rows.append(_score_config(cache, model, limit, cfg, prints[cfg], level_tasks))
            timings[f"{level}_scoring_seconds"] = round(time.perf_counter() - start, 1)
    finally:
        cache.close()
    return _document(lm, tasks, data_dir, rows, timings, limit)


def _unique_inputs(tasks: Sequence[Task]) -> list[Input]:
    seen: dict[Input, None] = {}
    for task in tasks:
        seen.update(dict.fromkeys(evaluator_for(task.spec).inputs(task)))
    return list(seen)


def _as_item(value: Input) -> object:
    return (value.text, value.span) if isinstance(value, WordInput) else value


def _fill_cache(lm, cache, model, limit, prints, inputs, level, batch_size, progress) -> int:
    """Embed what the cache lacks; returns how many (input, config) pairs were embedded.
    ``prints`` maps each configuration to its fingerprint (its part of the cache key)."""
    items = [_as_item(x) for x in inputs]
    configs = list(prints)
    missing = {}
    for cfg in configs:
        keys = [input_key(model, prints[cfg], limit, item) for item in items]
        have = cache.get_many(keys)
        missing[cfg] = {i for i, key in enumerate(keys) if key not in have}
    todo = sorted(set().union(*missing.values()))
    bar = progress_bar(progress, total=len(todo), desc=f"{level} inputs", unit="input")
    done = 0
    with bar:
        for start in range(0, len(todo), CHUNK):
            chunk = todo[start : start + CHUNK]
            wanted = [cfg for cfg in configs if missing[cfg].intersection(chunk)]
            results = embed_configs(
                lm,
                [items[i] for i in chunk],
                wanted,
                level=level,
                batch_size=batch_size,
                max_length=limit,
                show_progress_bar=False,
            )
            for cfg, result in results.items():
                entries = [
                    (input_key(model, prints[cfg], limit, items[chunk[j]]), vec)
                    for j, vec in zip(result.indices, result.embeddings)
                ]
                entries += [
                    (input_key(model, prints[cfg], limit, items[chunk[f.index]]), f.reason)
                    for f in result.failures
                ]
                cache.put_many(entries)
                done += len(entries)
            bar.update(len(chunk))
    return done


def _score_config(cache, model, limit, cfg, fingerprint, tasks) -> dict:
    scores = {}
    level = fingerprint["level"]
    for task in tasks:
        evaluator = evaluator_for(task.spec)
        inputs = evaluator.inputs(task)
        keys = [input_key(model, fingerprint, limit, _as_item(x)) for x in inputs]
        found = cache.get_many(keys)
        vectors = {}  # inputs that failed (cached with a reason) stay out: the item is skipped
        for x, key in zip(inputs, keys):
            if isinstance(found.get(key), np.ndarray):
                vectors[x] = found[key]
        start = time.perf_counter()
        score = evaluator.score(task, vectors)
        scores[task.name] = _score_dict(score, time.perf_counter() - start)
    return {
        "config": asdict(cfg),
        "label": cfg.label(),
        "level": level,
        "layer": fingerprint["layer"],
        "scores": scores,
    }


def _score_dict(score: TaskScore, seconds: float) -> dict:
    return {
        "metric": score.metric,
        "value": score.value,
        "extra": score.extra,
        "n_items": score.n_items,
        "n_scored": score.n_scored,
        "n_skipped": score.n_skipped,
        "skipped_examples": [list(s) for s in score.skipped],
        "seconds": round(seconds, 2),
    }


def _document(lm, tasks, data_dir, rows, timings, limit) -> dict:
    from reba import __version__

    return {
        "model": lm.name,
        "model_identity": model_identity(lm),
        "max_length": limit,
        "reba_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "data_dir": str(Path(data_dir).resolve()),
        "tasks": {
            t.name: {
                "type": t.spec.type,
                "level": t.spec.level,
                "lang": t.spec.lang,
                "metric": t.spec.metric,
                "files": dict(t.sha256),
                "rows": {role: len(r) for role, r in t.rows.items()},
            }
            for t in tasks
        },
        "timings": timings,
        "rows": rows,
    }


def write_results(document: dict, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
