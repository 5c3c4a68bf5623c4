"""Generated corpora for the folder and Ray tests: short texts, ids, and a few bad rows."""

import json
import random
from pathlib import Path

WORDS = [
    "bank",
    "river",
    "money",
    "loan",
    "water",
    "city",
    "road",
    "house",
    "green",
    "blue",
    "quick",
    "slow",
    "light",
    "dark",
    "cold",
    "warm",
    "the",
    "a",
    "of",
    "to",
    "in",
    "on",
    "river's",
    "cafe",
    "naïve",
    "银行",
    "取钱",
]


def texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 9))) for _ in range(n)]


def write_jsonl(path: Path, n: int, seed: int = 0, bad: dict[int, str] | None = None) -> Path:
    """``n`` rows ``{"id", "text"}``; ``bad`` replaces rows by raw lines (e.g. broken JSON)."""
    lines = [
        json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=False)
        for i, t in enumerate(texts(n, seed))
    ]
    for row, line in (bad or {}).items():
        lines[row] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


BAD_ROWS = {3: '{"id": "empty", "text": ""}', 11: '{"id": "nofield"}', 17: "{broken json"}
