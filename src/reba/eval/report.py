"""Reports from ``results.json``: a Markdown table and figures in the paper's form.

Figures plot score against the number of copies k, one line per repeating method, and the
methods without repetition (classical pooling, PromptEOL) as dashed horizontal lines.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

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
    timings = document.get("timings", {})
    if timings:
        lines += ["Timings: " + ", ".join(f"{k} {v}" for k, v in timings.items()), ""]
    return "\n".join(lines)


def _table(rows: list[dict], cols) -> str:
    columns = {header: [value(r, task, key) for r in rows] for task, key, header in cols}
    return _bold_best_table([label(r) for r in rows], columns)


def _averages(document: dict, rows: list[dict], cols) -> str:
    """Unweighted means of the main scores by task type, by language and overall (as C-MTEB
    averages); a row missing a task of a group has no average for that group."""
    tasks = document["tasks"]
    groups: dict[str, list[str]] = defaultdict(list)
    for task, _, _ in cols:
        groups[tasks[task]["type"]].append(task)
    for task, _, _ in cols:
        groups[f"all {tasks[task]['lang']}"].append(task)
    groups["all"] = [task for task, _, _ in cols]
    columns = {
        f"{name} ({len(members)})": [_mean([value(r, t, "value") for t in members]) for r in rows]
        for name, members in groups.items()
    }
    intro = (
        "Averages (unweighted mean of the main score over the tasks in each group; "
        "the number of tasks in brackets):"
    )
    return intro + "\n\n" + _bold_best_table([label(r) for r in rows], columns)


def _bold_best_table(labels: list[str], columns: dict[str, list[float | None]]) -> str:
    """A Markdown table, one row per label, with the best value of each column in bold."""
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
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(values: list[float | None]) -> float | None:
    """The mean, or None when a task is missing (a partial mean would not be comparable)."""
    if not values or any(v is None for v in values):
        return None
    return sum(values) / len(values)


def label(row: dict) -> str:
    """A row's configuration label, derived from the configuration itself."""
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


def figures(document: dict, out_dir: Path) -> list[Path]:
    """One PNG per level: a panel per task (and predictor), score against k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for level in ("word", "sentence"):
        rows = [r for r in document["rows"] if r["level"] == level]
        cols = columns(document, level)
        if not rows or not cols:
            continue
        ncols = min(3, len(cols))
        nrows = -(-len(cols) // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.4 * nrows), squeeze=False)
        for ax, (task, key, header) in zip(axes.flat, cols):
            _panel(ax, rows, task, key, header)
        for ax in list(axes.flat)[len(cols) :]:
            ax.axis("off")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(
            handles, labels, loc="lower center", ncol=min(6, len(labels)), bbox_to_anchor=(0.5, 0.0)
        )
        fig.suptitle(f"{document['model']}: {level}-level scores against copies k")
        fig.tight_layout(rect=(0, 0.06, 1, 0.97))
        path = out_dir / f"{level}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


FLAT_LINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def _panel(ax, rows, task, key, header) -> None:
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    flat: dict[str, float] = {}
    repeating = {r["config"]["method"] for r in rows if r["config"]["k"] > 1}
    for r in rows:
        v = value(r, task, key)
        if v is None:
            continue
        cfg = r["config"]
        series = _series(cfg)
        if cfg["method"] in repeating:
            lines[series].append((cfg["k"], v))
        else:
            flat[series] = v
    for series, points in sorted(lines.items()):
        points.sort()
        ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=series)
    for i, (series, v) in enumerate(sorted(flat.items())):  # dash patterns tell them apart
        style = FLAT_LINE_STYLES[i % len(FLAT_LINE_STYLES)]
        ax.axhline(v, linestyle=style, color=f"C{len(lines) + i}", label=series)
    ks = sorted({k for pts in lines.values() for k, _ in pts})
    if ks:
        ax.set_xticks(ks)
    ax.set_xlabel("copies k")
    ax.set_ylabel(rows[0]["scores"][task]["metric"] if task in rows[0]["scores"] else "score")
    ax.set_title(header, fontsize=10)
    ax.grid(alpha=0.3)


def _series(cfg: dict) -> str:
    """A configuration's line in a figure: everything but k."""
    from reba.methods import EmbeddingConfig

    label = EmbeddingConfig(**{**cfg, "k": 1}).label()
    return label.replace("/prefix", "+prefix").replace("/L", " (layer ").rstrip() + (
        ")" if "/L" in label else ""
    )


def write_report(results_dir: str | Path) -> list[Path]:
    """(Re)generate ``results.md`` and the figures from ``results_dir/results.json``."""
    out = Path(results_dir)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    table = out / "results.md"
    table.write_text(markdown(document) + "\n", encoding="utf-8")
    return [table, *figures(document, out)]
