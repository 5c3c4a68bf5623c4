"""Reports from ``results.json``: Markdown tables (``results.md``; ``reba.eval.publish``
writes them with the figures of ``reba.eval.figures``).

Per level: a table of every configuration on every task (with standard errors when the run
bootstrapped them), averages by task type, language and overall, the layers chosen on dev data
(``@dev`` rows) and what each method costs.
"""

from __future__ import annotations

from collections import defaultdict

# The row every other is compared with in pairs, per level (when the run has it).
REFERENCE = {"sentence": "prompteol", "word": "mean"}
# Word-level odd-one-out tasks report two predictors; each gets its own column and panel.
PREDICTORS = {"accuracy_distance": "distance", "accuracy_cosine": "cosine"}


def columns(document: dict, level: str) -> list[tuple[str, str, str]]:
    """(task, score key, header) for each column of ``level``'s table."""
    out = []
    for task, info in document["tasks"].items():
        if info["level"] != level:
            continue
        if info["type"] == "word_odd_one_out":
            out += [(task, key, f"{task} ({name})") for key, name in PREDICTORS.items()]
        else:
            out.append((task, "value", task))
    return out


def value(row: dict, task: str, key: str) -> float | None:
    score = row["scores"].get(task)
    if score is None:
        return None
    result = score["value"] if key == "value" else score["extra"].get(key)
    return None if result is None or result != result else float(result)  # NaN -> None


def error(row: dict, task: str) -> float | None:
    """The score's bootstrap standard error, if the run computed one."""
    score = row["scores"].get(task)
    se = None if score is None else score["extra"].get("se")
    return None if se is None or se != se else float(se)


def markdown(document: dict) -> str:
    lines = [
        f"# Results: {document['model']}",
        "",
        f"reba {document['reba_version']}, {document['created']}, data `{document['data_dir']}`",
        "",
    ]
    for level in ("word", "sentence"):
        rows = [r for r in document["rows"] if r["level"] == level]
        cols = columns(document, level)
        if not rows or not cols:
            continue
        lines += [
            f"## {level.capitalize()} level",
            "",
            _table(rows, cols),
            "",
            _counts(rows, cols),
            "",
        ]
        if level == "sentence" and len(cols) > 1:
            lines += [_averages(document, rows, cols), ""]
        paired = _paired(rows, cols, REFERENCE[level])
        if paired:
            lines += [paired, ""]
        chosen = [r for r in rows if r.get("selection") == "dev"]
        if chosen:
            lines += [_chosen(chosen, cols, document.get("depth")), ""]
        free = [r for r in rows if r.get("selection") == "free"]
        if free:
            how = f"by the label-free criterion ({free[0]['criterion']}) on each task's texts"
            lines += [_chosen(free, cols, document.get("depth"), how), ""]
    if document.get("costs"):
        lines += [_costs(document["costs"]), ""]
    timings = document.get("timings", {})
    if timings:
        lines += ["Timings: " + ", ".join(f"{k} {v}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def _table(rows: list[dict], cols) -> str:
    columns = {header: [value(r, task, key) for r in rows] for task, key, header in cols}
    errors = {header: [error(r, task) for r in rows] for task, key, header in cols}
    return _bold_best_table([label(r) for r in rows], columns, errors)


def _task_groups(document: dict, cols, by_language: bool) -> dict[str, list[str]]:
    """The tasks of ``cols`` by task type, then by language (``all zh``...) if asked, then
    ``all``; a task with two columns (word odd-one-out's predictors) counts once."""
    tasks = document["tasks"]
    names = list(dict.fromkeys(task for task, _, _ in cols))
    groups: dict[str, list[str]] = defaultdict(list)
    for task in names:
        groups[tasks[task]["type"]].append(task)
    for task in names if by_language else ():
        groups[f"all {tasks[task]['lang']}"].append(task)
    groups["all"] = names
    return groups


def _averages(document: dict, rows: list[dict], cols) -> str:
    """Unweighted means of the main scores by task type, by language and overall (as C-MTEB
    averages); a row missing a task of a group has no average for that group."""
    groups = _task_groups(document, cols, by_language=True)
    columns = {
        f"{name} ({len(members)})": [_mean([value(r, t, "value") for t in members]) for r in rows]
        for name, members in groups.items()
    }
    errors = {
        f"{name} ({len(members)})": [_mean_error([error(r, t) for t in members]) for r in rows]
        for name, members in groups.items()
    }
    intro = (
        "Averages (unweighted mean of the main score over the tasks in each group; "
        "the number of tasks in brackets; standard errors combined as independent):"
    )
    return intro + "\n\n" + _bold_best_table([label(r) for r in rows], columns, errors)


def averages(document: dict, level: str) -> dict[str, dict[str, float | None]]:
    """``{row label: {group: mean}}`` by task type and overall (``all``), for figures."""
    return _by_group(document, level, lambda r, m: _mean([value(r, t, "value") for t in m]))


def average_errors(document: dict, level: str) -> dict[str, dict[str, float | None]]:
    """``{row label: {group: standard error}}`` of ``averages`` (None without a bootstrap)."""
    return _by_group(document, level, lambda r, m: _mean_error([error(r, t) for t in m]))


def _by_group(document: dict, level: str, stat) -> dict[str, dict[str, float | None]]:
    groups = _task_groups(document, columns(document, level), by_language=False)
    rows = [r for r in document["rows"] if r["level"] == level]
    return {label(r): {g: stat(r, m) for g, m in groups.items()} for r in rows}


def _paired(rows: list[dict], cols, reference: str) -> str | None:
    """Each row against the reference row: the mean difference of the main score over the
    tasks, with the standard error of that difference from resampling both on the same units
    (much smaller than either score's own error when the two move together)."""
    ref = next((r for r in rows if label(r) == reference), None)
    tasks = list(dict.fromkeys(t for t, _, _ in cols))
    if ref is None or not all(_resamples(ref, t) for t in tasks):
        return None
    lines = [
        f"Against {reference}, in pairs (mean over the {len(tasks)} tasks of the difference in "
        "the main score; paired bootstrap standard error; tasks better / worse):",
        "",
        "| configuration | difference | paired SE | better / worse |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        if r is ref or not all(_resamples(r, t) for t in tasks):
            continue
        paired = paired_difference(r, ref, tasks)
        if paired is None:
            continue  # other items were scored: not a paired comparison
        diff, se, better, worse = paired
        lines.append(f"| {label(r)} | {diff:+.4f} | {se:.4f} | {better} / {worse} |")
    return "\n".join(lines)


def paired_difference(
    row: dict, ref: dict, tasks: list[str]
) -> tuple[float, float, int, int] | None:
    """``row`` minus ``ref`` over ``tasks``: the mean difference of the main score, its paired
    bootstrap standard error (both resampled on the same units), and how many tasks are better
    and worse. None when the two were scored on different units (not a paired comparison)."""
    if any(row["scores"][t]["extra"]["units"] != ref["scores"][t]["extra"]["units"] for t in tasks):
        return None
    diffs = [value(row, t, "value") - value(ref, t, "value") for t in tasks]
    per_resample = [
        sum(a - b for a, b in pairs) / len(tasks)
        for pairs in zip(*(zip(_resamples(row, t), _resamples(ref, t)) for t in tasks))
        if all(a is not None and b is not None for a, b in pairs)
    ]
    better, worse = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return sum(diffs) / len(diffs), _sd(per_resample), better, worse


def _resamples(row: dict, task: str) -> list | None:
    score = row["scores"].get(task)
    return None if score is None else score["extra"].get("resamples")


def _sd(values: list[float]) -> float:
    if len(values) < 2:
        return float("nan")
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5


def _chosen(rows: list[dict], cols, depth: int | None, how: str = "on each task's dev half") -> str:
    """The (k, layer) each @dev (or @free) row chose per task."""
    tasks = list(dict.fromkeys(t for t, _, _ in cols))
    lines = [
        f"Chosen {how} (k/layer, layer as an index into the model's "
        f"{'' if depth is None else depth + 1} hidden states; the scores above are on the test "
        "half):",
        "",
        "| configuration | " + " | ".join(tasks) + " |",
        "|---" * (len(tasks) + 1) + "|",
    ]
    for r in rows:
        cells = [_choice(r["chosen"].get(t), depth) for t in tasks]
        lines.append(f"| {label(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _choice(choice: dict | None, depth: int | None) -> str:
    if not choice:
        return "–"
    layer = choice["layer"]
    return f"{choice['k']}/{layer if depth is None else depth + 1 + layer}"


def _costs(costs: dict) -> str:
    lines = [
        "Cost (each method alone on the same texts, its own layer and default k):",
        "",
        "| method | texts/s | forward rows / text |",
        "|---|---:|---:|",
    ]
    for method, c in costs.items():
        lines.append(f"| {method} | {c['texts_per_second']:.1f} | {c['forwards_per_text']:.1f} |")
    return "\n".join(lines)


def _bold_best_table(
    labels: list[str],
    columns: dict[str, list[float | None]],
    errors: dict[str, list[float | None]] | None = None,
) -> str:
    """A Markdown table, one row per label, with the best value of each column in bold and,
    where known, its standard error (``0.5612 ±.0120``)."""
    best = {h: max((v for v in vs if v is not None), default=None) for h, vs in columns.items()}
    lines = [
        "| configuration | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for i, name in enumerate(labels):
        cells = []
        for header, values in columns.items():
            v = values[i]
            text = "–" if v is None else f"{v:.4f}"
            cells.append(f"**{text}**" if v is not None and v == best[header] else text)
            se = errors[header][i] if errors else None
            if se is not None and v is not None:
                cells[-1] += f" ±{se:.4f}".replace("0.", ".", 1)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(values: list[float | None]) -> float | None:
    """The mean, or None when a task is missing (a partial mean would not be comparable)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def _mean_error(errors: list[float | None]) -> float | None:
    """The standard error of a mean of independent scores."""
    if not errors or any(e is None for e in errors):
        return None
    return sum(e * e for e in errors) ** 0.5 / len(errors)


def label(row: dict) -> str:
    """A row's label: as written by the run, else derived from its configuration."""
    if row.get("label"):
        return row["label"]
    from reba.methods import EmbeddingConfig

    return EmbeddingConfig(**row["config"]).label()


def _counts(rows: list[dict], cols) -> str:
    parts = []
    for task in dict.fromkeys(t for t, _, _ in cols):
        s = rows[0]["scores"].get(task)
        if s:
            skipped = f", {s['n_skipped']} skipped" if s["n_skipped"] else ""
            parts.append(f"{task}: {s['n_scored']} of {s['n_items']} items scored{skipped}")
    return "Best per column in bold. " + "; ".join(parts) + "."
