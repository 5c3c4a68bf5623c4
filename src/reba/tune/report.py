"""What ``reba tune`` writes next to the configuration: a JSON record and a Markdown table of
every candidate (dev score, test score and standard error, texts/s), winner first."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from reba.config import EmbedderConfig
from reba.eval.cache import model_identity
from reba.eval.tasks import Task
from reba.models import LoadedModel
from reba.tune.search import Candidate, Outcome, paired_difference

FREE_NAMES = {  # the label-free criteria of reba.tune.search, as the report names them
    "align-uniform": "minus alignment + uniformity, Wang & Isola 2020",
    "entropy": "dataset entropy of the dev texts' vectors, highest; Skean et al. 2025",
    "twonn": "TwoNN intrinsic dimension of the dev texts' vectors, lowest; shown negated",
}


def document(
    lm: LoadedModel,
    outcome: Outcome,
    config: EmbedderConfig,
    tasks: list[Task],
    settings: dict,
) -> dict:
    """The record of one tune: what was searched on what, the winner and every candidate."""
    from reba import __version__

    doc = {
        "reba_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": lm.name,
        "model_identity": model_identity(lm),
        "tasks": {
            t.name: {
                "type": t.spec.type,
                "files": dict(t.sha256),
                "rows": {role: len(r) for role, r in t.rows.items()},
            }
            for t in tasks
        },
        "settings": settings,
        "criterion": outcome.criterion,
        "free_criterion": outcome.free_criterion,
        "searched": outcome.searched,
        "not_searched": outcome.skipped,
        "budget_hit": outcome.budget_hit,
        "seconds": outcome.seconds,
        "config": config.to_dict(),
        "winner": _candidate(outcome.winner),
        "candidates": [_candidate(c) for c in _ranked(outcome)],
    }
    if outcome.labelled_choice is not None:
        diff, se = paired_difference(outcome.winner, outcome.labelled_choice)
        doc["labelled_choice"] = _candidate(outcome.labelled_choice)
        doc["label_free_minus_labelled"] = {"test": _round(diff), "se": _round(se)}
    return doc


def _ranked(outcome: Outcome) -> list[Candidate]:
    key = (lambda c: c.free_dev) if outcome.criterion == "label-free" else (lambda c: c.dev)
    rest = [c for c in outcome.candidates if c is not outcome.winner]
    return [outcome.winner, *sorted(rest, key=lambda c: -_or_low(key(c)))]


def _or_low(value: float | None) -> float:
    return -math.inf if value is None or math.isnan(value) else value


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def _candidate(c: Candidate) -> dict:
    return {
        "label": c.label,
        "config": asdict(c.config),
        "layer": c.layer,
        "own_layer": c.own_layer,
        "dev": _round(c.dev),
        "test": _round(c.test),
        "se": _round(c.se),
        "free_dev": _round(c.free_dev),
        "cost": c.cost,
        "tasks": {
            name: {k: _round(v) if isinstance(v, float) else v for k, v in scores.items()}
            for name, scores in c.tasks.items()
        },
    }


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def markdown(doc: dict, config_path: str) -> str:
    winner = doc["winner"]
    free = doc["criterion"] == "label-free"
    tasks = ", ".join(f"{name} ({info['type']})" for name, info in doc["tasks"].items())
    lines = [
        f"# reba tune: {doc['model']}",
        "",
        f"Tasks: {tasks}. Chosen on the dev halves by "
        + (
            f"the label-free criterion ({FREE_NAMES[doc.get('free_criterion') or 'align-uniform']})"
            if free
            else "the mean dev score"
        )
        + "; every test score is on the held-back halves (± bootstrap standard error).",
        "",
        f"**Winner: {winner['label']}** (layer {winner['layer']}) -> `{config_path}`: "
        f"test {_score(winner)}, dev {_number(winner['dev'])}, "
        f"{_speed(winner)} texts/s.",
    ]
    if free and "labelled_choice" in doc:
        choice, diff = doc["labelled_choice"], doc["label_free_minus_labelled"]
        lines += [
            "",
            f"The labelled choice would be {choice['label']} (layer {choice['layer']}): test "
            f"{_score(choice)}; label-free minus labelled: {_number(diff['test'])} ± "
            f"{_number(diff['se'])} (paired).",
        ]
    if doc["budget_hit"]:
        lines += [
            "",
            f"Time budget reached: searched {', '.join(doc['searched'])}; not searched: "
            f"{', '.join(doc['not_searched'])}. The winner is the best of the methods searched.",
        ]
    head = "| candidate | layer | label-free dev | dev | test ± se | texts/s |"
    lines += ["", head if free else head.replace(" label-free dev |", ""), ""]
    lines[-1] = "|---|---:|" + "---:|" * (4 if free else 3)
    for c in doc["candidates"]:
        name = f"**{c['label']}**" if c is doc["candidates"][0] else c["label"]
        cells = [name, f"{c['layer']}{' (own)' if c['own_layer'] else ''}"]
        cells += [_number(c["free_dev"])] if free else []
        cells += [_number(c["dev"]), _score(c), _speed(c)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _score(c: dict) -> str:
    return _number(c["test"]) + ("" if c["se"] is None else f" ± {c['se']:.3f}")


def _speed(c: dict) -> str:
    return "–" if not c["cost"] else f"{c['cost']['texts_per_second']:.1f}"


def write_report(doc: dict, config_path: str | Path) -> list[Path]:
    """``<config>.tune.json`` and ``<config>.tune.md`` beside the configuration file."""
    config_path = Path(config_path)
    stem = config_path.with_suffix("")
    record = stem.with_name(stem.name + ".tune.json")
    table = stem.with_name(stem.name + ".tune.md")
    record.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    table.write_text(markdown(doc, config_path.name), encoding="utf-8")
    return [record, table]
