"""Run a sweep: every (method, k, layer) configuration on every task, each input embedded once.

Per level (word, sentence) the inputs of all tasks are pooled and de-duplicated; what the cache
lacks is embedded in chunks, with all configurations that share an input sharing its forward
pass (``reba.embed_configs``), and stored after each chunk so an interrupted run resumes.
Then each configuration is scored on each task from the cache.

With ``Sweep.dev`` each task is split into a dev and a test half (``reba.eval.splits``); every
row is scored on the test half, and each method gets one more row whose layer (and, for
methods that repeat the text, number of copies) is chosen per task on the dev half; for
in-context PromptEOL (a recipe with a demonstration) the dev half chooses the demonstration
instead, at the method's own layer, as its authors do (``reba.eval.selection``).

With ``Sweep.postprocess`` each sentence row is also scored with post-processing fitted on the
task's own texts (``reba.eval.postprocess``); the cache holds the vectors before it.
With ``Sweep.free`` the same candidates are ranked by a label-free criterion on the vectors
of the task's texts (``reba.eval.layer_criteria``; no labels) in a row of its own, scored
likewise on the test half.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from reba.engine import check_method, embed_configs, progress_bar
from reba.engine.counter import ForwardCounter
from reba.eval import layer_criteria, selection, splits
from reba.eval.cache import EmbeddingCache, earlier_identities, input_key, model_identity
from reba.eval.costs import measure_costs
from reba.eval.evaluators import Input, TaskScore, WordInput, evaluator_for
from reba.eval.postprocess import NONE, postprocessed, pp_label
from reba.eval.tasks import Task, load_task, load_task_specs
from reba.methods import WORD_READOUTS, EmbeddingConfig, Level, parse_method
from reba.models import LoadedModel, cache_dir

CHUNK = 256  # inputs embedded (and cached) per step


@dataclass(frozen=True)
class Sweep:
    """What to evaluate: methods x copies x layers, and how."""

    methods: tuple[str, ...]
    ks: tuple[int, ...] = (1,)
    layers: tuple[int | None, ...] = (None,)  # None: each method's own layer
    dev: bool = False  # also choose layer (and k) on each task's dev half
    dev_ks: tuple[int, ...] = ()  # candidate k when choosing (default: ks)
    dev_demos: tuple[int, ...] = ()  # candidate demonstrations (lines of the method's pool)
    free: bool = False  # also choose layer (and k) by a label-free criterion on the texts
    free_criterion: str = "entropy"  # reba.eval.layer_criteria.CRITERIA
    preprocess: str | None = None
    sample: int | None = None  # at most this many rows per task role, drawn with seed
    seed: int = 0
    bootstrap: int = 0  # resamples for each score's standard error (0: none)
    cost_texts: int = 0  # texts to time each sentence method on (0: no costs)
    postprocess: tuple[str, ...] = (NONE,)  # sentence rows: none, mean, abtt[:k], whitening[:d]


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
            for layer in layers if recipe.values is None else [None]:  # VA: a layer range
                configs.append(EmbeddingConfig(base, k, layer, prefix, preprocess))
    return list(dict.fromkeys(configs))


def run_sweep(
    lm: LoadedModel,
    task_names: Sequence[str],
    data_dir: str | Path,
    sweep: Sweep,
    *,
    batch_size: int = 16,
    max_length: int | None = None,
    cache_path: str | Path | None = None,
    show_progress_bar: bool | None = None,
) -> dict:
    """Embed and score; returns the ``results.json`` document (see ``reba.eval.report``)."""
    specs = load_task_specs(data_dir)
    tasks = [load_task(data_dir, name) for name in task_names or specs]
    if sweep.sample:
        tasks = [splits.sample(t, sweep.sample, sweep.seed) for t in tasks]
    cache = EmbeddingCache(cache_path or cache_dir() / "embeddings.sqlite")
    scorer = Scorer.of(cache, lm, max_length or lm.max_length, sweep.bootstrap)
    rows, timings = [], {}
    try:
        for level in ("word", "sentence"):
            level_tasks = [t for t in tasks if t.spec.level == level]
            fixed = sweep_configs(sweep.methods, sweep.ks, sweep.layers, level, sweep.preprocess)
            choosing = sweep.dev or sweep.free
            candidates = _dev_candidates(lm, sweep, level) if choosing else {}
            configs = list(dict.fromkeys(fixed + [c for cs in candidates.values() for c in cs]))
            if not level_tasks or not configs:
                continue
            prints = {cfg: check_method(lm, cfg, level).fingerprint() for cfg in configs}
            start = time.perf_counter()
            inputs = unique_inputs(level_tasks)
            with ForwardCounter(lm.model) as forwards:
                embedded = fill_cache(
                    lm, scorer, prints, inputs, level, batch_size, show_progress_bar
                )
            timings[f"{level}_embedding_seconds"] = round(time.perf_counter() - start, 1)
            timings[f"{level}_inputs_embedded"] = embedded
            timings.update({f"{level}_{k}": v for k, v in forwards.as_dict().items()})
            start = time.perf_counter()
            posts = sweep.postprocess if level == "sentence" else (NONE,)
            rows += _rows(scorer, fixed, candidates, prints, level_tasks, sweep, posts)
            timings[f"{level}_scoring_seconds"] = round(time.perf_counter() - start, 1)
    finally:
        cache.close()
    document = _document(lm, tasks, data_dir, rows, timings, scorer.limit, sweep)
    if sweep.cost_texts:
        document["costs"] = _costs(lm, sweep, tasks, batch_size)
    return document


def _dev_candidates(lm, sweep: Sweep, level: Level) -> dict[tuple, list[EmbeddingConfig]]:
    """For each (method, prefix option): the configurations the dev half chooses among."""
    out = {}
    layers = selection.dev_layers(lm.num_layers)
    for cfg in sweep_configs(
        sweep.methods, sweep.dev_ks or sweep.ks, [None], level, sweep.preprocess
    ):
        method = check_method(lm, cfg, level)
        if method.recipe.values is not None:  # VA/AlignedWVA: a layer range, nothing to choose
            continue
        key = (cfg.method, cfg.include_prefix)
        if parse_method(cfg.method).recipe.icl is not None:
            out[key] = selection.demonstration_configs(cfg, sweep.dev_demos)
            continue
        for layer in sorted({*layers, method.layer}):
            out.setdefault(key, []).append(
                EmbeddingConfig(cfg.method, cfg.k, layer, cfg.include_prefix, cfg.preprocess)
            )
    return out


def _rows(scorer, fixed, candidates, prints, tasks, sweep: Sweep, posts=(NONE,)) -> list[dict]:
    if not (sweep.dev or sweep.free):
        return [scorer.row(cfg, prints[cfg], tasks, post=p) for cfg in fixed for p in posts]
    halves = {t.name: {part: splits.split(t, part) for part in splits.PARTS} for t in tasks}
    test = [halves[t.name]["test"] for t in tasks]
    rows = [
        scorer.row(cfg, prints[cfg], test, selection="fixed", post=p)
        for cfg in fixed
        for p in posts
    ]
    for (method, prefix), configs in candidates.items():
        if sweep.dev:
            rows.append(scorer.dev_row(method, prefix, configs, prints, tasks, halves))
        if sweep.free:
            criterion = sweep.free_criterion
            rows.append(scorer.free_row(method, prefix, configs, prints, tasks, halves, criterion))
    return rows


def _costs(lm, sweep: Sweep, tasks: list[Task], batch_size: int) -> dict:
    texts = [x for t in tasks if t.spec.level == "sentence" for x in unique_inputs([t])]
    texts = [t for t in texts if isinstance(t, str)][: sweep.cost_texts]
    methods = [cfg.method for cfg in sweep_configs(sweep.methods, [1], [None], "sentence")]
    return measure_costs(lm, list(dict.fromkeys(methods)), texts, batch_size) if texts else {}


def unique_inputs(tasks: Sequence[Task]) -> list[Input]:
    seen: dict[Input, None] = {}
    for task in tasks:
        seen.update(dict.fromkeys(evaluator_for(task.spec).inputs(task)))
    return list(seen)


def _as_item(value: Input) -> object:
    return (value.text, value.span) if isinstance(value, WordInput) else value


def fill_cache(lm, scorer, prints, inputs, level, batch_size, progress) -> int:
    """Embed what the cache lacks; returns how many (input, config) pairs were embedded.
    ``prints`` maps each configuration to its fingerprint (its part of the cache key);
    configurations with the same fingerprint are embedded once."""
    items = [_as_item(x) for x in inputs]
    configs = list({json.dumps(fp, sort_keys=True): cfg for cfg, fp in prints.items()}.values())
    missing = {}
    for cfg in configs:
        keys = [scorer.key(prints[cfg], item) for item in items]
        have = scorer.cache.get_many(keys)
        absent = [i for i, key in enumerate(keys) if key not in have]
        missing[cfg] = set(scorer.carry_forward(prints[cfg], items, keys, absent))
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
                max_length=scorer.limit,
                show_progress_bar=False,
            )
            for cfg, result in results.items():
                entries = [
                    (scorer.key(prints[cfg], items[chunk[j]]), vec)
                    for j, vec in zip(result.indices, result.embeddings)
                ]
                entries += [
                    (scorer.key(prints[cfg], items[chunk[f.index]]), f.reason)
                    for f in result.failures
                ]
                scorer.cache.put_many(entries)
                done += len(entries)
            bar.update(len(chunk))
    return done


@dataclass
class Scorer:
    """Scores configurations on tasks from the cache."""

    cache: EmbeddingCache
    model: str
    limit: int
    bootstrap: int
    earlier: tuple[str, ...] = ()  # the model's identities under equivalent earlier revisions
    _vectors: dict = field(default_factory=dict)

    @classmethod
    def of(cls, cache: EmbeddingCache, lm, limit: int, bootstrap: int) -> Scorer:
        return cls(cache, model_identity(lm), limit, bootstrap, earlier_identities(lm))

    def key(self, fingerprint: dict, item: object) -> bytes:
        return input_key(self.model, fingerprint, self.limit, item)

    def carry_forward(
        self, fingerprint: dict, items: list, keys: list[bytes], absent: list[int]
    ) -> list[int]:
        """Copy the entries of ``items[i]`` (``i`` in ``absent``) cached under an equivalent
        earlier revision to their keys ``keys[i]``; returns the indices still absent."""
        for model in self.earlier:
            if not absent:
                break
            old = {i: input_key(model, fingerprint, self.limit, items[i]) for i in absent}
            found = self.cache.get_many(old.values())
            self.cache.put_many((keys[i], found[old[i]]) for i in absent if old[i] in found)
            absent = [i for i in absent if old[i] not in found]
        return absent

    def vectors(self, fingerprint: dict, task: Task) -> dict[Input, np.ndarray]:
        """The cached vectors of a task's inputs (failed inputs stay out: their rows skip)."""
        inputs = evaluator_for(task.spec).inputs(task)
        keys = [self.key(fingerprint, _as_item(x)) for x in inputs]
        found = self.cache.get_many(keys)
        return {x: found[k] for x, k in zip(inputs, keys) if isinstance(found.get(k), np.ndarray)}

    def score(
        self, fingerprint: dict, task: Task, part: Task | None = None, bootstrap=True, post=NONE
    ):
        """Score ``task`` (or its ``part``), with post-processing ``post`` fitted on the vectors
        of all of the task's texts."""
        start = time.perf_counter()
        vectors = postprocessed(self.vectors(fingerprint, task), post, task.name)
        score = evaluator_for(task.spec).score(
            part or task, vectors, self.bootstrap if bootstrap else 0
        )
        return _score_dict(score, time.perf_counter() - start)

    def row(self, cfg, fingerprint, tasks, selection: str | None = None, post=NONE) -> dict:
        row = {
            "config": asdict(cfg),
            "label": pp_label(cfg.label(), post),
            "level": fingerprint["level"],
            "layer": fingerprint["layer"],
            "scores": {t.name: self.score(fingerprint, t, post=post) for t in tasks},
        }
        if post != NONE:  # rows without it keep their old form
            row["postprocess"] = post
        if selection:
            row["selection"] = selection
        return row

    def dev_row(self, method, prefix, configs, prints, tasks, halves) -> dict:
        """One method with its layer (and k) chosen on each task's dev half, scored on the
        test half."""
        scores, chosen = {}, {}
        for task in tasks:
            dev, test = halves[task.name]["dev"], halves[task.name]["test"]
            on_dev = {
                cfg: self.score(prints[cfg], task, dev, bootstrap=False)["value"] for cfg in configs
            }
            pick = selection.best(on_dev)
            scores[task.name] = self.score(prints[pick], task, test)
            chosen[task.name] = {"k": pick.k, "layer": prints[pick]["layer"], "dev": on_dev[pick]}
            if "icl" in prints[pick]:
                chosen[task.name]["demo"] = prints[pick]["icl"]["demo"]
                chosen[task.name]["pool_sha256"] = prints[pick].get("pool_sha256")
        first = configs[0]
        name = parse_method(method).name
        label = f"{name}{'/prefix' if prefix else ''} @dev"
        config = {**asdict(first), "method": method, "k": None, "layer": None}
        return {
            "config": config,
            "label": label,
            "level": prints[first]["level"],
            "selection": "dev",
            "chosen": chosen,
            "scores": scores,
        }

    def free_row(self, method, prefix, configs, prints, tasks, halves, criterion) -> dict:
        """One method with its layer (and k) chosen per task by the label-free ``criterion``
        on the vectors of all the task's texts (no labels), scored on the test half."""
        scores, chosen = {}, {}
        for task in tasks:
            inputs = evaluator_for(task.spec).inputs(task)
            on_texts = {}
            for cfg in configs:
                found = self.vectors(prints[cfg], task)
                matrix = np.stack([found[x] for x in inputs if x in found])
                on_texts[cfg] = layer_criteria.layer_score(criterion, matrix)
            pick = selection.best(on_texts)
            scores[task.name] = self.score(prints[pick], task, halves[task.name]["test"])
            chosen[task.name] = {
                "k": pick.k,
                "layer": prints[pick]["layer"],
                criterion: layer_criteria.CRITERIA[criterion][1] * on_texts[pick],
                "texts": len(inputs),
            }
        first = configs[0]
        label = f"{parse_method(method).name}{'/prefix' if prefix else ''} @free"
        return {
            "config": {**asdict(first), "k": None, "layer": None},
            "label": label,
            "level": prints[first]["level"],
            "selection": "free",
            "criterion": criterion,
            "chosen": chosen,
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


def _document(lm, tasks, data_dir, rows, timings, limit, sweep: Sweep) -> dict:
    from reba._version import VECTORS_REVISION, __version__

    return {
        "sweep": {**asdict(sweep), "layers": list(sweep.layers)},
        "model": lm.name,
        "model_identity": model_identity(lm),
        "depth": lm.num_layers,
        "max_length": limit,
        "reba_version": __version__,
        "vectors_revision": VECTORS_REVISION,
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
