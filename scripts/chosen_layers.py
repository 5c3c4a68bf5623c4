"""Where ``reba eval --layers dev`` put each method's layer, as a fraction of the model's depth.

    python scripts/chosen_layers.py results/leaderboard/*/sentence/results.json ...

One line per results file: how many (method, task) choices its ``@dev`` rows made, the median
depth of the chosen layer (layer / depth; 1.0 is the last layer), the share at the last layer
and at two thirds of the depth or shallower, and the mean over methods of ``@dev`` minus the
same method at its own layer (same k), averaged over the tasks, with how many methods gained.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def summary(path: Path) -> str:
    doc = json.loads(path.read_text())
    depth = doc["depth"]
    own = {
        (r["config"]["method"], r["config"]["k"]): r
        for r in doc["rows"]
        if r.get("selection", "fixed") == "fixed"
        and "@" not in r["label"]
        and "/pp-" not in r["label"]
    }
    depths, gains = [], []
    for row in doc["rows"]:
        if row.get("selection") != "dev":
            continue
        method = row["config"]["method"]
        base = own.get((method, 2)) or own.get((method, 1))
        chosen = row["chosen"]
        depths += [(depth + 1 + c["layer"]) / depth for c in chosen.values()]
        if base is not None:
            tasks = [t for t in chosen if t in base["scores"] and t in row["scores"]]
            diff = [row["scores"][t]["value"] - base["scores"][t]["value"] for t in tasks]
            gains.append(statistics.mean(diff))
    if not depths:
        return f"{path}: no @dev rows"
    last = sum(d == 1 for d in depths) / len(depths)
    shallow = sum(d <= 2 / 3 + 1e-9 for d in depths) / len(depths)
    gain = (
        f"{statistics.mean(gains):+.3f} ({sum(g > 0 for g in gains)} of {len(gains)} up)"
        if gains
        else "-"
    )
    return (
        f"{path}: depth {depth}, {len(depths)} choices, median {statistics.median(depths):.2f}, "
        f"last layer {last:.0%}, at 2/3 or shallower {shallow:.0%}, @dev - own {gain}"
    )


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(summary(Path(name)))
