"""Figures of a results document: score against copies k per task (the paper's form), a heat
map of methods x task types (sorted, ``@dev`` rows apart), the leading rows with their
standard errors, and cost against quality."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from reba.eval.report import REFERENCE, average_errors, averages, columns, value

FLAT_LINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def figures(document: dict, out_dir: Path) -> list[Path]:
    """Every figure the document supports; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    written = []
    for level in ("word", "sentence"):
        written += _k_figure(document, out_dir, level)
        if len([r for r in document["rows"] if r["level"] == level]) > 6:
            written += _heatmap(document, out_dir, level)
            written += _leading(document, out_dir, level)
    if document.get("costs"):
        written += _cost_figure(document, out_dir)
    return written


def _k_figure(document: dict, out_dir: Path, level: str) -> list[Path]:
    """A panel per task (and predictor), score against k; rows chosen on dev are left out."""
    import matplotlib.pyplot as plt

    written = []
    rows = [
        r
        for r in document["rows"]
        if r["level"] == level and r.get("selection") not in ("dev", "free")
    ]
    cols = columns(document, level)
    if rows and cols:
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
        legend_rows = -(-len(labels) // 6)
        fig.tight_layout(rect=(0, 0.03 * legend_rows + 0.03, 1, 0.97))
        path = out_dir / f"{level}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _panel(ax, rows, task, key, header) -> None:
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    flat: dict[str, float] = {}
    repeating = {r["config"]["method"] for r in rows if (r["config"]["k"] or 1) > 1}
    for r in rows:
        v = value(r, task, key)
        if v is None:
            continue
        cfg = r["config"]
        series = _series(cfg) + (f" pp-{r['postprocess']}" if r.get("postprocess") else "")
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


DEV = " @dev"
FREE = " @free"  # layer (and k) chosen by a label-free criterion (reba.eval.layer_criteria)


def chosen(row_label: str) -> bool:
    """Whether a row's layer (and k) was chosen per task: on dev, or label-free."""
    return row_label.endswith((DEV, FREE))


LEADING = 15  # rows in the error-bar figure


def _sorted_apart(table: dict[str, dict[str, float | None]]) -> tuple[list[str], list[str]]:
    """Row labels at their own layer and ``@dev`` rows apart, each best-first by the overall
    average (rows without one last)."""

    def key(row: str) -> float:
        overall = table[row]["all"]
        return -math.inf if overall is None else overall

    ordered = sorted(table, key=key, reverse=True)
    return [r for r in ordered if not chosen(r)], [r for r in ordered if chosen(r)]


def _heatmap(document: dict, out_dir: Path, level: str) -> list[Path]:
    """Methods x task types, sorted by the overall average, own-layer rows and ``@dev`` rows in
    two panels; colour by position between each column's lowest and highest score over both
    panels (metrics differ across columns), the average score written in each cell."""
    import matplotlib.pyplot as plt
    import numpy as np

    table = averages(document, level)
    groups = list(next(iter(table.values())))
    panels = [rows for rows in _sorted_apart(table) if rows]
    every = [r for rows in panels for r in rows]
    values = np.array(
        [[np.nan if table[r][g] is None else table[r][g] for g in groups] for r in every]
    )
    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    shade = (values - low) / np.where(high > low, high - low, 1)
    height = 0.3 * max(len(rows) for rows in panels) + 1.9
    width = 1.1 * len(groups) + 3.2
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    first = 0
    for ax, rows in zip(axes.flat, panels):
        part = slice(first, first + len(rows))
        first += len(rows)
        ax.imshow(shade[part], cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        for i, row in enumerate(values[part]):
            for j, v in enumerate(row):
                if not math.isnan(v):
                    dark = shade[part][i, j] < 0.6
                    ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")  # fmt: skip
        kind = "layer (and k) chosen per task" if chosen(rows[0]) else "own layer"
        ax.set_title(f"{kind}: {len(rows)} rows, best first", fontsize=10)
    fig.suptitle(
        f"{document['model']}: {level}-level average by task type, sorted by 'all'\n"
        "(colour: from the column's lowest to its highest)"
    )
    fig.tight_layout()
    path = out_dir / f"heatmap-{level}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _leading(document: dict, out_dir: Path, level: str) -> list[Path]:
    """The leading rows by overall average with ± one standard error (when the run
    bootstrapped), own-layer and ``@dev`` rows in two colours; the reference row for
    comparison as a dashed line."""
    import matplotlib.pyplot as plt

    table = averages(document, level)
    errors = average_errors(document, level)
    rows = [r for r in sorted(table, key=lambda r: -table[r]["all"]) if table[r]["all"] is not None]
    if not rows:
        return []
    shown = rows[:LEADING][::-1]  # best at the top
    fig, ax = plt.subplots(figsize=(7.5, 0.34 * len(shown) + 1.8))
    for y, row in enumerate(shown):
        dev = chosen(row)
        se = errors[row]["all"]
        ax.errorbar(table[row]["all"], y, xerr=se, fmt="^" if dev else "o", capsize=3,
                    color="C1" if dev else "C0")  # fmt: skip
    reference = REFERENCE[level]
    if reference in table and table[reference]["all"] is not None:
        ax.axvline(table[reference]["all"], linestyle="--", color="grey", linewidth=1)
        ax.text(table[reference]["all"], len(shown) - 0.4, f" {reference}", color="grey",
                fontsize=8, va="bottom")  # fmt: skip
    ax.set_yticks(range(len(shown)), shown, fontsize=8)
    ax.set_ylim(-0.6, len(shown) - 0.1)
    tasks = len({t for t, _, _ in columns(document, level)})
    noun = "task" if tasks == 1 else "tasks"
    ax.set_xlabel(f"average score over the {tasks} {noun} (± 1 bootstrap standard error)")
    ax.set_title(
        f"{document['model']}: leading {len(shown)} of {len(rows)} {level}-level rows\n"
        "(circle: own layer; triangle: layer/k chosen on dev)",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path = out_dir / f"leading-{level}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def _cost_figure(document: dict, out_dir: Path) -> list[Path]:
    """Texts/s against the average sentence score; @dev rows share their method's cost."""
    import matplotlib.pyplot as plt

    table = averages(document, "sentence")
    costs = document["costs"]
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    for row_label, groups in table.items():
        method = row_label.removesuffix(DEV).removesuffix(FREE)
        dev = chosen(row_label)
        base = method.split("/")[0].rsplit("-", 1)[0] if method not in costs else method
        cost = costs.get(method.split("/")[0]) or costs.get(base)
        if cost is None or groups["all"] is None:
            continue
        ax.scatter(cost["texts_per_second"], groups["all"], marker="^" if dev else "o",
                   color="C1" if dev else "C0")  # fmt: skip
        ax.annotate(row_label, (cost["texts_per_second"], groups["all"]), fontsize=6,
                    xytext=(3, 2), textcoords="offset points")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("texts/s (log scale; this machine)")
    ax.set_ylabel("average sentence score")
    ax.set_title(f"{document['model']}: cost against quality (circle: own layer; triangle: @dev)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_dir / "cost.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
