"""Code blocks of the project README, for tests that run its examples as a user copies them."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def code_block(after: str, language: str) -> str:
    """The first ```language block after the text ``after`` in the README, verbatim."""
    text = README.read_text(encoding="utf-8")
    tail = text[text.index(after) :]
    return re.search(rf"```{language}\n(.*?)```", tail, re.S).group(1)
