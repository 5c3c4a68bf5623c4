"""The named methods: each paper's setting as a recipe (input, intervention, read-out, layer).

``+`` in a name combines parts (``reba.methods.parse``): ``pcot+reba`` is PCoT's prompt with
ReBA's read-out. The names with ``+tp``/``+cp`` below are the papers' own settings of those
combinations (their layers); other combinations take the base method's layer.
"""

from __future__ import annotations

from reba.inputs import templates as T
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.recipe import Prompt, Recipe, Repetition

REPEAT = (Repetition(),)
TOP_MINUS_5 = -6  # "layer 27" of a 32-layer model: depth - 5, i.e. hidden_states[-6]


def _prompt(*templates: str, whole: bool = True) -> tuple[Prompt, ...]:
    return tuple(Prompt(t, whole) for t in templates)


CP_PROMPTEOL = ContrastivePrompting(alpha=2.0, layer_of_32=4)
CP_COT = ContrastivePrompting(alpha=3.0, layer_of_32=6)  # PCoT and KE (and so CK)

PRESETS: dict[str, Recipe] = {
    # ReBA's paper: classical pooling, Echo and ReBA over token-level repetition
    "mean": Recipe(REPEAT, "mean", description="classical: mean of the text's tokens (k=1)"),
    "last": Recipe(REPEAT, "last", description="classical: the last token (k=1)"),
    "echo": Recipe(
        REPEAT, "mean", repeats=True, default_k=2, description="Echo: mean of the last copy"
    ),
    "echo-last": Recipe(
        REPEAT, "last", repeats=True, default_k=2, description="Echo: last token of the last copy"
    ),
    "reba": Recipe(
        REPEAT,
        "reba",
        repeats=True,
        default_k=2,
        description="ReBA: backward attention summed over copy 1's rows",
    ),
    "reba-last": Recipe(
        REPEAT,
        "reba-last",
        repeats=True,
        default_k=2,
        description="ReBA: backward attention of the last row",
    ),
    # Prompt methods: last token of a one-word prompt
    "prompteol": Recipe(
        _prompt(T.PROMPTEOL), "last", description="PromptEOL: last token of the one-word prompt"
    ),
    "pcot": Recipe(
        _prompt(T.PCOT), "last", -2, description="pretended chain of thought, penultimate layer"
    ),
    "ke": Recipe(_prompt(T.KE), "last", -2, description="knowledge enhancement, penultimate layer"),
    "ck": Recipe(_prompt(T.PCOT, T.KE), "last", -2, description="mean of the PCoT and KE vectors"),
    "metaeol": Recipe(
        _prompt(*T.METAEOL), "last", description="MetaEOL: mean of eight task prompts' vectors"
    ),
    "echo-prompt": Recipe(
        _prompt(T.ECHO_PROMPT, whole=False),
        "mean",
        description="Echo's zero-shot prompt: mean of the second occurrence",
    ),
    # Token Prepending (layers of the TP paper)
    "prompteol+tp": Recipe(
        _prompt(T.PROMPTEOL),
        "last",
        TOP_MINUS_5,
        TokenPrepending(),
        description="PromptEOL with Token Prepending, layer depth-5",
    ),
    "pcot+tp": Recipe(
        _prompt(T.PCOT), "last", -2, TokenPrepending(), description="PCoT with Token Prepending"
    ),
    "ke+tp": Recipe(
        _prompt(T.KE), "last", -2, TokenPrepending(), description="KE with Token Prepending"
    ),
    "metaeol+tp": Recipe(
        _prompt(*T.METAEOL),
        "last",
        -1,
        TokenPrepending(),
        description="MetaEOL with Token Prepending on all eight prompts",
    ),
    # Contrastive Prompting (layers and alphas of the CP paper)
    "prompteol+cp": Recipe(
        _prompt(T.PROMPTEOL),
        "last",
        TOP_MINUS_5,
        CP_PROMPTEOL,
        description="PromptEOL with Contrastive Prompting (NS), layer depth-5",
    ),
    "pcot+cp": Recipe(
        _prompt(T.PCOT), "last", -2, CP_COT, description="PCoT with Contrastive Prompting (NS)"
    ),
    "ke+cp": Recipe(
        _prompt(T.KE), "last", -2, CP_COT, description="KE with Contrastive Prompting (NS)"
    ),
    "ck+cp": Recipe(
        _prompt(T.PCOT, T.KE),
        "last",
        -2,
        CP_COT,
        description="CK with Contrastive Prompting on both prompts",
    ),
}

# Where each preset comes from, for `reba info` and the README.
SOURCES = {
    "mean": "classical",
    "last": "classical",
    "echo": "Springer et al. 2024 (arXiv 2402.15449)",
    "echo-last": "Springer et al. 2024",
    "reba": "Duan et al. 2025 (arXiv 2502.20726)",
    "reba-last": "Duan et al. 2025",
    "prompteol": "Jiang et al. 2023 (arXiv 2307.16645)",
    "pcot": "Zhang et al. 2024 (arXiv 2404.03921)",
    "ke": "Zhang et al. 2024",
    "ck": "Zhang et al. 2024",
    "metaeol": "Lei et al. 2024 (arXiv 2402.18458)",
    "echo-prompt": "Springer et al. 2024",
    "tp": "Fu et al. 2025 (arXiv 2412.11556)",
    "cp": "Cheng et al. 2025 (arXiv 2505.12831)",
}
