"""Prompt templates, verbatim from the methods' papers and code, and how a template is split.

A template is a string with one or more ``{text}`` slots (nothing else in it is special, so
templates may contain braces). Token Prepending adds a placeholder token just before the
opening quote of the first slot; :func:`with_placeholder` marks that place.
"""

from __future__ import annotations

from dataclasses import dataclass

SLOT = "{text}"
PLACEHOLDER = "\x00<PST>\x00"  # cannot occur in user text: marks where Token Prepending's row goes

# PromptEOL (Jiang et al.; kongds/scaling_sentemb)
PROMPTEOL = 'This sentence : "{text}" means in one word:"'
# Pretended chain of thought and knowledge enhancement (ZBWpro/PretCoTandKE settings.py)
PCOT = 'After thinking step by step , this sentence : "{text}" means in one word:"'
KE = (
    "The essence of a sentence is often captured by its main subjects and actions, while "
    "descriptive terms provide additional but less central details. With this in mind , this "
    'sentence : "{text}" means in one word:"'
)
# MetaEOL (Yibin-Lei/MetaEOL evaluation.py): eight task prompts, vectors averaged
METAEOL = (
    "In this task, you're presented with a text excerpt. Your task is to categorize the excerpt "
    "into a broad category such as 'Education', 'Technology', 'Health', 'Business', "
    "'Environment', 'Politics', or 'Culture'. These categories help in organizing content for "
    'better accessibility and targeting. For this task, this sentence : "{text}" should be '
    'classified under one general category in one word:"',
    "In this task, you're given a statement and you need to determine whether it's presenting "
    "an 'Opinion' or a 'Fact'. This distinction is vital for information verification, "
    'educational purposes, and content analysis. For this task, this sentence : "{text}" '
    'discriminates between opinion and fact in one word:"',
    "In this task, you're given a review from an online platform. Your task is to generate a "
    "rating for the product based on the review on a scale of 1-5, where 1 means 'extremely "
    "negative' and 5 means 'extremely positive'. For this task, this sentence : \"{text}\" "
    'reflects the sentiment in one word:"',
    "In this task, you're reading a personal diary entry. Your task is to identify the "
    "predominant emotion expressed, such as joy, sadness, anger, fear, or love. For this task, "
    'this sentence : "{text}" conveys the emotion in one word:"',
    "In this task, you're presented with two sentences. Your task is to assess whether the "
    "sentences convey the same meaning. Use 'identical', 'similar', 'different', or "
    "'unrelated' to describe the relationship. To enhance the performance of this task, this "
    'sentence : "{text}" means in one word:"',
    "In this task, you're given a sentence and a phrase. Your task is to determine if the "
    "phrase can be a contextual synonym within the given sentence. Options include 'yes', "
    "'no', or 'partially'. To enhance the performance of this task, this sentence : "
    '"{text}" means in one word:"',
    "In this task, you're examining a news article. Your task is to extract the most critical "
    'fact from the article. For this task, this sentence : "{text}" encapsulates the key fact '
    'in one word:"',
    "In this task, you're reviewing a scientific abstract. Your task is to identify the main "
    "entities (e.g., proteins, diseases) and their relations (e.g., causes, treats). For this "
    'task, this sentence : "{text}" highlights the primary entity or relation in one word:"',
)
# Echo embeddings' zero-shot prompt (Springer et al., arXiv 2402.15449, paper)
ECHO_PROMPT = "Rewrite the following sentence: {text}\nThe rewritten sentence: {text}"
# Contrastive Prompting's auxiliary prompt (zifengcheng/CP)
CP_AUXILIARY = 'The irrelevant information of this sentence : "{text}" means in one word:"'
# EmbedFilter's prompt (Llama and Qwen) and Echo paragraph prompt (CentreChen/EmbFilter)
EMBEDFILTER = 'Summarize the sentence: "{text}" in one word:"'
EMBEDFILTER_ECHO = "Rewrite the following paragraph: {text}. The rewritten paragraph: {text}"
# PromptReps' Llama-3-8B-Instruct prompt files (ielab/PromptReps, prompts/): verbatim, with the
# two characters backslash-n as in the files, but for the leading "<|begin_of_text|>", which is
# the model's own BOS (reba's special prefix): on Llama-3 the ids are the authors'.
_PROMPTREPS_SYSTEM = (
    "<|start_header_id|>system<|end_header_id|>\\n\\nYou are an AI assistant that can "
    "understand human language.<|eot_id|><|start_header_id|>user<|end_header_id|>\\n\\n"
)
_PROMPTREPS_END = (
    " in a retrieval task. Make sure your word is in lowercase.<|eot_id|>"
    '<|start_header_id|>assistant<|end_header_id|>\\n\\nThe word is: "'
)
PROMPTREPS_PASSAGE = (
    _PROMPTREPS_SYSTEM
    + 'Passage: "{text}". Use one word to represent the passage'
    + _PROMPTREPS_END
)
PROMPTREPS_QUERY = (
    _PROMPTREPS_SYSTEM + 'Query: "{text}". Use one word to represent the query' + _PROMPTREPS_END
)
# HTP's templates (snap-research/HTP config.yaml, vanilla-mean-pool), without the literal
# "<s> " and " </s>" (Mistral's BOS, reba's special prefix; an EOS after the text, which the
# mean over the text does not read)
HTP_DOCUMENT = "{text}"
HTP_QUERY = "Retrieve relevant document. Text:{text}"
# KV-Embedding's compression prompts (arXiv 2601.01046) as secondary readings of the paper
# give them: the paper's own text was not read (docs/methods-2026.md)
KV_CONTEXT = "Context: {text} Compress the Context in one word:"
KV_QUERY = "Query: {text} Compress the Query in one word:"


@dataclass(frozen=True)
class Piece:
    """A literal string of a template, or (``literal is None``) a text slot."""

    literal: str | None

    @property
    def is_slot(self) -> bool:
        return self.literal is None


def split_template(template: str) -> list[Piece]:
    """``'A "{text}" B'`` -> literal ``'A "'``, slot, literal ``'" B'`` (empty literals dropped)."""
    pieces: list[Piece] = []
    for i, literal in enumerate(template.split(SLOT)):
        if i:
            pieces.append(Piece(None))
        if literal:
            pieces.append(Piece(literal))
    return pieces


def check_template(template: str) -> None:
    """A template must hold at least one ``{text}`` slot and no placeholder marker."""
    if not isinstance(template, str) or SLOT not in template:
        raise ValueError(f"a prompt template needs a {SLOT} slot, got {template!r}")
    if PLACEHOLDER in template:
        raise ValueError("a prompt template may not contain NUL characters")


def with_placeholder(template: str) -> str:
    """Token Prepending's form: a placeholder and a space just before the quote opening the
    first slot, e.g. ``This sentence : <PST> "{text}"``."""
    slot = template.index(SLOT)
    if slot == 0 or template[slot - 1] not in "\"'“「":
        raise ValueError(
            "Token Prepending puts its token before the quote that opens the text, but this "
            f"template has no quote before {SLOT}: {template!r}"
        )
    return template[: slot - 1] + PLACEHOLDER + " " + template[slot - 1 :]


def senteval_preprocess(text: str) -> str:
    """The English STS preprocessing of SentEval-based repositories (kongds/scaling_sentemb):
    append ``.`` unless the text ends in ``. ? " '``; ``"`` -> ``'``; a final ``?`` -> ``.``.
    Character positions of the original text are kept (spans stay valid)."""
    if text and text[-1] not in ".?\"'":
        text += "."
    text = text.replace('"', "'")
    if text.endswith("?"):
        text = text[:-1] + "."
    return text


PREPROCESSORS = {"senteval": senteval_preprocess}
