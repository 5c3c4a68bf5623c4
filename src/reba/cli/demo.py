"""``reba demo``: the main job on the bundled default model, in under a minute.

1. ``reba embed`` on a small bilingual file; 2. word sense in context: which of three uses of a
word is the odd one out, with classical pooling, Echo and ReBA (the paper's word-level task).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = "run reba embed and a word-sense example on the default model"

SENTENCES = [
    "我们去银行取钱。",
    "他在银行上班，负责贷款业务。",
    "这个苹果又大又甜。",
    "The bank approved my loan this morning.",
    "We had a picnic on the grassy bank of the river.",
    "Embeddings from causal language models miss what comes later in the text.",
]

# Three uses of a word; the last one is in a different sense.
WORD_SENSE = [
    ("苹果", ["我今天吃了一个苹果。", "这个苹果又大又甜。", "苹果公司发布了新款手机。"]),
    (
        "bank",
        [
            "I deposited money at the bank.",
            "The bank approved my loan.",
            "We had a picnic on the river bank.",
        ],
    ),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", default=None, help="model (default: the bundled default)")
    parser.add_argument("--out", default="reba-demo", help="folder for the demo files")


def run(args: argparse.Namespace) -> int:
    from reba.config import EmbedderConfig
    from reba.models import DEFAULT_MODEL, load_model
    from reba.runners.job import EmbedJob
    from reba.runners.local import run_local

    model = args.model or DEFAULT_MODEL
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    source = out / "sentences.txt"
    source.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    output = out / "sentences.npy"
    print(f"$ reba embed --model {model} --method reba -k 2 --input {source} --output {output}")
    config = EmbedderConfig(model=model, method="reba", k=2)
    summary = run_local(EmbedJob(str(source), str(output), config, quiet=True))
    summary.print()
    if summary.exit_code:
        return summary.exit_code
    print(f"\nWord sense in context on {model}: which use is the odd one out?")
    lm = load_model(model)
    for word, sentences in WORD_SENSE:
        _word_sense(lm, word, sentences)
    return 0


def _word_sense(lm, word: str, sentences: list[str]) -> None:
    from reba import Embedder, EmbedderConfig, EmbeddingConfig

    print(f"\n  {word!r} in: " + " | ".join(sentences))
    for method, k in (("mean", 1), ("echo", 2), ("reba", 2)):
        embedder = Embedder.from_config(EmbedderConfig(lm.name, method, k), model=lm)
        vectors = embedder.encode_words([(s, word) for s in sentences])
        centred = vectors - vectors.mean(axis=0)
        odd = int(np.argmax(np.linalg.norm(centred, axis=1)))
        sims = Embedder.similarity(vectors, vectors)
        label = EmbeddingConfig(method, k).label()
        print(
            f"    {label}: cos(1,2)={sims[0, 1]:.3f} cos(1,3)={sims[0, 2]:.3f} "
            f"cos(2,3)={sims[1, 2]:.3f}  odd one out: sentence {odd + 1}"
            f"{' (right)' if odd == 2 else ' (wrong)'}"
        )
