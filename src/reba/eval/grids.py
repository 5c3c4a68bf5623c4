"""Named grids of methods, usable in ``reba eval --methods`` next to method names.

repetition    classical pooling, Echo and ReBA over token-level repetition
prompts       the prompt methods: PromptEOL, PCoT, KE, CK, MetaEOL, Echo's prompt
interventions Token Prepending and Contrastive Prompting on the prompts (the papers' set)
reba-prompts  ReBA read-outs over the PromptEOL, PCoT and KE prompts, alone and with TP/CP
frontier      the 2026 methods on dense models (docs/methods-2026.md): EmbedFilter, PromptReps'
              dense vector, in-context PromptEOL, KV-Embedding, HTP, VA and AlignedWVA, and
              ReBA's read-out over those that take one (MoEE needs a mixture-of-experts model)
all           all of the above
leading       what to run first on a model reba has never seen (``reba eval``'s default): the
              methods of the stage-2 leaderboards of all three models measured (results/README.md,
              "Stage 2"), best first across them, then the classical baselines
word          the word-level grid: repetition read-outs and prompts read at the word
"""

from __future__ import annotations

from collections.abc import Sequence

from reba.methods import PRESETS
from reba.methods.parse import split_method_list

_PROMPTS = ("prompteol", "pcot", "ke")
GRIDS: dict[str, tuple[str, ...]] = {
    "repetition": ("mean", "last", "echo", "echo-last", "reba", "reba-last"),
    "prompts": ("prompteol", "pcot", "ke", "ck", "metaeol", "echo-prompt"),
    "interventions": tuple(name for name in PRESETS if "+" in name),
    "reba-prompts": tuple(
        f"{p}{iv}+{readout}"
        for p in _PROMPTS
        for iv in ("", "+tp", "+cp")
        for readout in ("reba", "reba-last")
    ),
    "frontier": (
        "embedfilter",
        "embedfilter-echo",
        "reba+embedfilter",
        "promptreps",
        "prompteol-icl",
        "prompteol-icl+reba",
        "kv-embedding",
        "kv-embedding+reba",
        "htp",
        "va",
        "alignedwva",
    ),
    "leading": (  # by mean rank over the three models' stage 2 (results/README.md)
        "embedfilter",
        "embedfilter-echo",
        "pcot+reba",
        "echo-prompt",
        "pcot",
        "prompteol",
        "kv-embedding",
        "echo",
        "va",
        "reba",
        "mean",
    ),
    "word": (
        "mean",
        "echo",
        "reba",
        "prompteol+mean",
        "prompteol+reba",
        "pcot+mean",
        "pcot+reba",
        "ke+mean",
        "ke+reba",
    ),  # fmt: skip
}
GRIDS["all"] = tuple(
    dict.fromkeys(
        GRIDS["repetition"]
        + GRIDS["prompts"]
        + GRIDS["interventions"]
        + GRIDS["reba-prompts"]
        + GRIDS["frontier"]
    )
)


def expand(methods: str | Sequence[str]) -> list[str]:
    """Method names with every grid name replaced by its methods, duplicates dropped."""
    names = split_method_list(methods) if isinstance(methods, str) else list(methods)
    out: list[str] = []
    for name in names:
        out += GRIDS.get(name, (name,))
    return list(dict.fromkeys(out))
