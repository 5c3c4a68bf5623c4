"""The named methods: each paper's setting as a recipe (input, intervention, read-out, layer).

``+`` in a name combines parts (``reba.methods.parse``): ``pcot+reba`` is PCoT's prompt with
ReBA's read-out. The names with ``+tp``/``+cp`` below are the papers' own settings of those
combinations (their layers); other combinations take the base method's layer.
"""

from __future__ import annotations

from reba.inputs import templates as T
from reba.methods.demonstration import InContext
from reba.methods.heads import EmbedFilter, SparseLogits
from reba.methods.htp import HierarchicalTokenPrepending
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.kv_rerouting import KVRerouting
from reba.methods.moee import RouterWeights
from reba.methods.recipe import Intervention, Prompt, Readout, Recipe, Repetition
from reba.methods.values import AlignedWVA, ValueAggregation

TOP_MINUS_5 = -6  # "layer 27" of a 32-layer model: depth - 5, i.e. hidden_states[-6]
CP_PROMPTEOL = ContrastivePrompting(alpha=2.0, layer_of_32=4)
CP_COT = ContrastivePrompting(alpha=3.0, layer_of_32=6)  # PCoT and KE (and so CK)


def repetition(readout: Readout, about: str, k: int | None = None) -> Recipe:
    """The text k times at the token level (``k=None``: never repeated)."""
    return Recipe(
        (Repetition(),), readout, repeats=k is not None, default_k=k or 1, description=about
    )


def prompts(
    *templates: str,
    about: str,
    layer: int = -1,
    whole: bool = True,
    ends: bool = False,
    readout: Readout = "last",
    intervention: Intervention | None = None,
    embedfilter: EmbedFilter | None = None,
    sparse: SparseLogits | None = None,
    moee: RouterWeights | None = None,
    icl: InContext | None = None,
) -> Recipe:
    """The text in each template (several: their vectors are averaged)."""
    inputs = tuple(Prompt(t, whole, ends) for t in templates)
    return Recipe(
        inputs,
        readout,
        layer,
        intervention,
        embedfilter=embedfilter,
        sparse=sparse,
        moee=moee,
        icl=icl,
        description=about,
    )


# fmt: off
PRESETS: dict[str, Recipe] = {
    # ReBA's paper: classical pooling, Echo and ReBA over token-level repetition
    "mean": repetition("mean", "classical: mean of the text's tokens"),
    "last": repetition("last", "classical: the last token"),
    "echo": repetition("mean", "Echo: mean of the last copy", k=2),
    "echo-last": repetition("last", "Echo: last token of the last copy", k=2),
    "reba": repetition("reba", "ReBA: backward attention over copy 1's rows", k=2),
    "reba-last": repetition("reba-last", "ReBA: backward attention of the last row", k=2),
    # Prompt methods: the last token of a one-word prompt
    "prompteol": prompts(T.PROMPTEOL, about="PromptEOL: last token of the one-word prompt"),
    "pcot": prompts(T.PCOT, layer=-2, about="pretended chain of thought, penultimate layer"),
    "ke": prompts(T.KE, layer=-2, about="knowledge enhancement, penultimate layer"),
    "ck": prompts(T.PCOT, T.KE, layer=-2, about="mean of the PCoT and KE vectors"),
    "metaeol": prompts(*T.METAEOL, about="MetaEOL: mean of eight task prompts' vectors"),
    "echo-prompt": prompts(T.ECHO_PROMPT, whole=False, readout="mean",
                           about="Echo's zero-shot prompt: mean of the second occurrence"),
    # Token Prepending, with the TP paper's read-out layers
    "prompteol+tp": prompts(T.PROMPTEOL, layer=TOP_MINUS_5, intervention=TokenPrepending(),
                            about="PromptEOL with Token Prepending, layer depth-5"),
    "pcot+tp": prompts(T.PCOT, layer=-2, intervention=TokenPrepending(), about="PCoT with TP"),
    "ke+tp": prompts(T.KE, layer=-2, intervention=TokenPrepending(), about="KE with TP"),
    "metaeol+tp": prompts(*T.METAEOL, intervention=TokenPrepending(),
                          about="MetaEOL with TP on all eight prompts"),
    # Contrastive Prompting (NS), with the CP paper's layers and alphas
    "prompteol+cp": prompts(T.PROMPTEOL, layer=TOP_MINUS_5, intervention=CP_PROMPTEOL,
                            about="PromptEOL with Contrastive Prompting, layer depth-5"),
    "pcot+cp": prompts(T.PCOT, layer=-2, intervention=CP_COT, about="PCoT with CP"),
    "ke+cp": prompts(T.KE, layer=-2, intervention=CP_COT, about="KE with CP"),
    "ck+cp": prompts(T.PCOT, T.KE, layer=-2, intervention=CP_COT, about="CK, CP on both prompts"),
    # Read-outs through the LM head: EmbedFilter (half the directions, the middle ones) and
    # PromptReps (dense last token + sparse vector of the text's words' logits)
    "embedfilter": prompts(T.EMBEDFILTER, embedfilter=EmbedFilter(),
                           about="EmbedFilter: the prompt's last token, middle half of the "
                                 "head's singular directions"),
    "embedfilter-echo": prompts(T.EMBEDFILTER_ECHO, whole=False, ends=True, readout="mean",
                                embedfilter=EmbedFilter(),
                                about="EmbedFilter over Echo: [BOS] prompt [EOS], mean of the "
                                      "second occurrence and the EOS"),
    "promptreps": prompts(T.PROMPTREPS_PASSAGE, whole=False, sparse=SparseLogits(),
                          about="PromptReps (passage prompt): dense last token + sparse logits"),
    "promptreps-query": prompts(T.PROMPTREPS_QUERY, whole=False, sparse=SparseLogits(),
                                about="PromptReps' query prompt: dense + sparse"),
    # MoEE (mixture-of-experts models only): PromptEOL's prompt, the last token's hidden state
    # with every MoE layer's router weights, z-scored with statistics fitted on a corpus
    "moee": prompts(T.PROMPTEOL, moee=RouterWeights(),
                    about="MoEE (concat): hidden state + router weights, z-scored (MoE models)"),
    "moee-sum": prompts(T.PROMPTEOL, moee=RouterWeights(combine="sum"),
                        about="MoEE (sum): cos(hidden) + cos(router weights) (MoE models)"),
    # Hierarchical Token Prepending: TP per sentence, mean of the text, penultimate layer
    "htp": prompts(T.HTP_DOCUMENT, whole=False, readout="mean", layer=-2,
                   intervention=HierarchicalTokenPrepending(),
                   about="HTP (documents): TP per sentence, mean of the text, layer -2"),
    "htp-query": prompts(T.HTP_QUERY, whole=False, readout="mean", layer=-2,
                         intervention=HierarchicalTokenPrepending(),
                         about="HTP's query prompt: TP per sentence, mean, layer -2"),
    # In-context PromptEOL: the authors' README demonstration (a citation, built in) before
    # PromptEOL's prompt
    "prompteol-icl": prompts(T.PROMPTEOL, icl=InContext(),
                             about="in-context PromptEOL: one demonstration, last token"),
    # KV-Embedding: the last token's key/value as a prefix slot in the middle layers, read
    # as the mean of all positions averaged with the last token [paper not read]
    "kv-embedding": prompts(T.KV_CONTEXT, readout="hybrid", intervention=KVRerouting(),
                            about="KV-Embedding: last token's K/V re-routed as a prefix"),
    "kv-embedding-query": prompts(T.KV_QUERY, readout="hybrid", intervention=KVRerouting(),
                                  about="KV-Embedding's query prompt"),
    # Value read-outs (paper not read: every layer, plain mean; docs/methods-2026.md)
    "va": Recipe((Repetition(),), "mean", values=ValueAggregation(),
                 description="VA: attention values of the text's tokens, mean over all layers"),
    "alignedwva": Recipe((Prompt(T.PROMPTEOL),), "last", values=AlignedWVA(),
                         description="AlignedWVA: PromptEOL's last-token attention output "
                                     "(through W_O), mean over all layers"),
}
# fmt: on

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
    "embedfilter": "Wu et al. 2026 (arXiv 2606.07502; CentreChen/EmbFilter)",
    "embedfilter-echo": "Wu et al. 2026",
    "promptreps": "Zhuang et al. 2024 (arXiv 2404.18424; ielab/PromptReps)",
    "promptreps-query": "Zhuang et al. 2024",
    "moee": "Li & Zhou 2025 (arXiv 2410.10814; tianyi-lab/MoE-Embedding)",
    "moee-sum": "Li & Zhou 2025",
    "htp": "Ding, Huang et al. 2026 (arXiv 2511.14868; snap-research/HTP)",
    "htp-query": "Ding, Huang et al. 2026",
    "prompteol-icl": "Jiang et al. 2023 (arXiv 2307.16645; kongds/scaling_sentemb)",
    "kv": "Tang & Yang 2026 (arXiv 2601.01046; paper not read)",
    "kv-embedding": "Tang & Yang 2026 (arXiv 2601.01046; paper not read)",
    "kv-embedding-query": "Tang & Yang 2026",
    "va": "Zhang et al. 2026 (arXiv 2602.01572; paper not read, from the abstract)",
    "alignedwva": "Zhang et al. 2026 (arXiv 2602.01572; paper not read, from the abstract)",
}
