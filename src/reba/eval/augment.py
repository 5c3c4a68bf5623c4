"""Text augmentation for label-free criteria: EDA's random deletion (Wei & Zou 2019,
"EDA: Easy Data Augmentation Techniques...", arXiv 1901.11196, section 2: "randomly remove each
word in the sentence with probability p"), seeded by the text itself so that a text always
gets the same view (and its embedding can be cached).

Words are the whitespace-separated tokens; a text without spaces between words (Chinese,
Japanese) is deleted from character by character.
"""

from __future__ import annotations

import hashlib
import random

DELETION_P = 0.1  # EDA's recommended alpha for random deletion


def random_deletion(text: str, p: float = DELETION_P) -> str:
    """``text`` with each word (or character) removed with probability ``p``; if none is
    left, one random word is kept, as EDA does."""
    words, sep = text.split(), " "
    if len(words) < 2:
        words, sep = list(text.strip()), ""
    if not words:
        return text
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    rng = random.Random(seed)
    kept = [w for w in words if rng.random() > p]
    return sep.join(kept or [rng.choice(words)])
