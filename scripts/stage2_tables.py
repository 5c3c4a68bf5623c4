"""The stage-2 tables of results/README.md, from the runs' ``results.json``.

    python scripts/stage2_tables.py results/leaderboard/*/stage2/results.json

For each run, the own-layer rows sorted by their average over the tasks: average ± bootstrap
standard error (the tasks' resamples averaged), the paired difference against PromptEOL and
against the row above (both rows resampled on the same items), the same row with mean removal
(``/pp-mean``) and the averages by task type. Then, with several runs, one table of every
method across them: average ± se (rank), the difference against PromptEOL, and the mean rank.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from reba.eval.report import averages, paired_difference

TYPES = ("sts", "pair_classification", "classification")


def average(doc: dict, row: dict) -> float:
    return float(np.mean([row["scores"][t]["value"] for t in doc["tasks"]]))


def resamples(doc: dict, row: dict) -> np.ndarray:
    return np.array([row["scores"][t]["extra"]["resamples"] for t in doc["tasks"]]).mean(0)


def paired(doc: dict, a: dict, b: dict) -> str:
    diff, se, _, _ = paired_difference(a, b, list(doc["tasks"]))
    return f"{diff:+.3f} ± {se:.3f}"


def own_rows(doc: dict) -> list[dict]:
    rows = [r for r in doc["rows"] if "/pp-" not in r["label"] and "@" not in r["label"]]
    return sorted(rows, key=lambda r: -average(doc, r))


def model_table(doc: dict) -> list[str]:
    labels = {r["label"]: r for r in doc["rows"]}
    base = labels["prompteol"]
    groups = averages(doc, "sentence")  # {label: {task type or "all": mean}}
    lines = [
        "| method | all ± se | − PromptEOL (paired) | − the row above (paired) | pp-mean "
        "| sts | pair | classification |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    above = None
    for row in own_rows(doc):
        se = resamples(doc, row).std(ddof=1)
        pp = labels.get(row["label"] + "/pp-mean")
        by_group = groups[row["label"]]
        by_type = [f"{by_group[kind]:.3f}" if kind in by_group else "–" for kind in TYPES]
        lines.append(
            f"| {row['label']} | {average(doc, row):.3f} ± {se:.3f} "
            f"| {'–' if row is base else paired(doc, row, base)} "
            f"| {'–' if above is None else paired(doc, row, above)} "
            f"| {'–' if pp is None else f'{average(doc, pp):.3f}'} | " + " | ".join(by_type) + " |"
        )
        above = row
    return lines


def across(docs: dict[str, dict]) -> list[str]:
    cells: dict[str, dict[str, tuple[str, int, str]]] = {}
    for model, doc in docs.items():
        base = next(r for r in doc["rows"] if r["label"] == "prompteol")
        for rank, row in enumerate(own_rows(doc), 1):
            se = resamples(doc, row).std(ddof=1)
            vs = "–" if row is base else paired(doc, row, base)
            cells.setdefault(row["label"], {})[model] = (
                f"{average(doc, row):.3f} ± {se:.3f} ({rank})",
                rank,
                vs,
            )
    order = sorted(cells, key=lambda m: np.mean([c[1] for c in cells[m].values()]))
    lines = [
        "| method | " + " | ".join(docs) + " | mean rank | − PromptEOL, per model |",
        "|---|" + "---:|" * (len(docs) + 2),
    ]
    for label in order:
        row = cells[label]
        lines.append(
            f"| {label} | "
            + " | ".join(row[m][0] if m in row else "–" for m in docs)
            + f" | {np.mean([c[1] for c in row.values()]):.1f} | "
            + " / ".join(row[m][2] if m in row else "–" for m in docs)
            + " |"
        )
    return lines


if __name__ == "__main__":
    runs = {Path(p).parent.parent.name: json.loads(Path(p).read_text()) for p in sys.argv[1:]}
    for name, doc in runs.items():
        print(f"\n{name}\n")
        print("\n".join(model_table(doc)))
    if len(runs) > 1:
        print("\nacross the runs\n")
        print("\n".join(across(runs)))
