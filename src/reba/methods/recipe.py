"""A method as a recipe: the input, the forward intervention, the read-out and the layer.

Two read-out parts go through the LM head (``methods.heads``): EmbedFilter's projection of
the dense vector, and PromptReps' sparse vector next to it.

Every embedding method here is one :class:`Recipe`. Presets (``methods.presets``) name the
papers' settings; the method grammar (``methods.parse``) combines their parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from reba.inputs.markers import htp_template
from reba.inputs.templates import check_template, with_placeholder
from reba.methods.demonstration import InContext
from reba.methods.heads import EmbedFilter, SparseLogits
from reba.methods.htp import HierarchicalTokenPrepending
from reba.methods.interventions import ContrastivePrompting, TokenPrepending
from reba.methods.kv_rerouting import KVRerouting
from reba.methods.moee import RouterWeights
from reba.methods.values import AlignedWVA, ValueAggregation, ValueReadout

Readout = Literal["mean", "last", "reba", "reba-last", "hybrid"]
READOUTS: tuple[Readout, ...] = ("mean", "last", "reba", "reba-last", "hybrid")
WORD_READOUTS: tuple[Readout, ...] = ("mean", "reba")


@dataclass(frozen=True)
class Repetition:
    """``z = P + x*k``: the text's own tokens k times after the special prefix (k: the
    configuration's number of copies)."""


@dataclass(frozen=True)
class Prompt:
    """The text placed in a template's ``{text}`` slots. ``whole``: tokenize the prompt string
    as one (PromptEOL family); otherwise template pieces and text apart (Echo).

    ``ends``: EmbedFilter's Echo input: exactly one BOS before the prompt (the tokenizer's BOS,
    or its EOS when it has none, as the authors' scripts set it) and an EOS after it, in place
    of the tokenizer's own special tokens; the mean read-out pools that EOS with the last
    occurrence of the text."""

    template: str
    whole: bool = True
    ends: bool = False

    def __post_init__(self) -> None:
        check_template(self.template)


Input = Repetition | Prompt
Intervention = TokenPrepending | ContrastivePrompting | HierarchicalTokenPrepending | KVRerouting


@dataclass(frozen=True)
class Recipe:
    """How to embed a text.

    - ``inputs``: one input, or several whose vectors are averaged (MetaEOL's eight prompts,
      CK's two);
    - ``readout``: ``mean`` (of the last occurrence of the text, or of the word's tokens in
      it), ``last`` (the last token), ``reba`` (backward-attention weights summed over the
      first occurrence's rows, or the word's), ``reba-last`` (the last row of backward
      attention), ``hybrid`` (KV-Embedding: the average of the mean over every position of
      the input, prompt included, and the last token);
    - ``layer``: the hidden layer read (Hugging Face indexing, -1 = last, -2 = penultimate);
    - ``intervention``: none, Token Prepending, Contrastive Prompting, hierarchical Token
      Prepending (HTP) or KV re-routing (the last one also on the repetition input);
    - ``repeats``/``default_k``: whether the text may be repeated k times (repetition only);
    - ``embedfilter``: EmbedFilter's projection of the dense vector (any read-out);
    - ``sparse``: PromptReps' sparse vector from the last position's logits (one input, read
      out at the last token);
    - ``moee``: MoEE's router weights of every MoE layer with the hidden state (one input,
      read out at the last token; ``methods.moee``);
    - ``icl``: in-context PromptEOL's demonstration before each (PromptEOL) prompt.
    - ``values``: VA (attention values) or AlignedWVA (attention outputs), averaged over a
      range of layers, pooled instead of the hidden state of ``layer``.
    """

    inputs: tuple[Input, ...]
    readout: Readout
    layer: int = -1
    intervention: Intervention | None = None
    repeats: bool = False
    default_k: int = 1
    embedfilter: EmbedFilter | None = None
    sparse: SparseLogits | None = None
    moee: RouterWeights | None = None
    icl: InContext | None = None
    values: ValueReadout | None = None
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.inputs:
            raise ValueError("a recipe needs at least one input")
        if self.readout not in READOUTS:
            raise ValueError(f"unknown read-out {self.readout!r}; read-outs: {', '.join(READOUTS)}")
        if self.repeats and not all(isinstance(i, Repetition) for i in self.inputs):
            raise ValueError("only a repetition input can repeat the text k times")
        prompt_only = self.intervention is not None and not isinstance(
            self.intervention, KVRerouting
        )
        if prompt_only and not all(isinstance(i, Prompt) for i in self.inputs):
            raise ValueError(
                f"{type(self.intervention).__name__} changes the forward pass of a prompt; "
                "it is not defined on the plain repetition input (use a prompt method, e.g. "
                "prompteol)"
            )
        if self.icl is not None:
            if len(self.prompts) != len(self.inputs):
                raise ValueError(
                    "in-context demonstrations go before a prompt (PromptEOL's), not the plain "
                    "repetition input"
                )
            for prompt in self.prompts:
                self.icl.template(prompt.template)  # raises unless it is PromptEOL's
        if isinstance(self.intervention, TokenPrepending):
            for prompt in self.input_specs():
                with_placeholder(prompt.template)  # raises if there is no quote to put <PST> before
        if isinstance(self.intervention, HierarchicalTokenPrepending):
            for prompt in self.input_specs():
                htp_template(prompt.template)  # raises unless there is exactly one text slot

        if self.sparse is not None:
            self._check_sparse()
        if self.moee is not None:
            self._check_moee()
        if self.values is not None:
            self._check_values()

    def _check_sparse(self) -> None:
        if len(self.inputs) != 1:
            raise ValueError(
                "the sparse (PromptReps) read-out takes one input: sparse vectors of several "
                "prompts are not averaged"
            )
        if self.readout != "last":
            raise ValueError(
                f"the sparse (PromptReps) read-out comes from the last position's next-token "
                f"logits; the dense read-out must be 'last' too, got {self.readout!r}"
            )

    def _check_moee(self) -> None:
        if len(self.inputs) != 1:
            raise ValueError(
                "MoEE (moee) takes one input: router weights of several prompts are not averaged"
            )
        if self.readout != "last":
            raise ValueError(
                f"MoEE (moee) reads the router weights and the hidden state at the last token "
                f"(the authors'); a {self.readout!r} read-out would pool router weights over "
                "positions, which is not measured: use 'last'"
            )
        if self.embedfilter is not None or self.sparse is not None:
            raise ValueError(
                "MoEE (moee) does not combine with the read-outs through the LM head "
                "(embedfilter, sparse): its vector holds router weights, not a hidden state"
            )

    def input_specs(self) -> tuple[Input, ...]:
        """The inputs as the model sees them (with the demonstration, if any)."""
        if self.icl is None:
            return self.inputs
        return tuple(Prompt(self.icl.template(p.template), p.whole) for p in self.prompts)

    def _check_values(self) -> None:
        if self.moee is not None:
            raise ValueError(
                f"{self.values.name} replaces the hidden state that MoEE (moee) pairs with "
                "router weights; the two do not combine"
            )
        if isinstance(self.values, AlignedWVA) and self.readout != "last":
            raise ValueError(
                "AlignedWVA is the attention output at the last position (the last token's "
                f"attention weights the values); the read-out must be 'last', got {self.readout!r}"
            )
        if isinstance(self.values, ValueAggregation) and self.embedfilter is not None:
            raise ValueError(
                "EmbedFilter projects residual-stream vectors; VA's values live in the value "
                "space (num_kv_heads * head_dim wide), so the two do not combine"
            )

    @property
    def prompts(self) -> tuple[Prompt, ...]:
        return tuple(i for i in self.inputs if isinstance(i, Prompt))

    def forwards_per_text(self) -> int:
        """Forward passes per text: one per input, plus CP's auxiliary pass (partial)."""
        extra = 1 if isinstance(self.intervention, ContrastivePrompting) else 0
        return len(self.inputs) * (1 + extra)
