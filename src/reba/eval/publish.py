"""Writing a results folder's report: ``results.md`` (``report``) and the figures
(``figures``), both from ``results.json``."""

from __future__ import annotations

import json
from pathlib import Path

from reba.eval.report import markdown


def write_report(results_dir: str | Path) -> list[Path]:
    """(Re)generate ``results.md`` and the figures from ``results_dir/results.json``."""
    out = Path(results_dir)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    table = out / "results.md"
    table.write_text(markdown(document) + "\n", encoding="utf-8")
    from reba.eval.figures import figures  # matplotlib: the eval extra

    return [table, *figures(document, out)]
