"""Finding the parts of a transformers model that interventions touch, for any architecture.

No module names are assumed per model: decoder layers are the ``ModuleList`` as long as the
config's layer count, and the attention output projection is looked up under the names the
common families use (Llama/Qwen2/Gemma/Mistral ``o_proj``, GPT-2 ``c_proj``, OPT/BART
``out_proj``, Falcon/Phi/GPT-NeoX ``dense``). What cannot be found is refused, naming the class.
"""

from __future__ import annotations

import torch

# Attribute names of a decoder layer's attention module, and of its output projection.
ATTENTION_NAMES = ("self_attn", "attn", "self_attention", "attention")
OUTPUT_PROJECTION_NAMES = ("o_proj", "c_proj", "out_proj", "dense", "wo")


class UnsupportedArchitectureError(ValueError):
    """A method needs a part of the model that this architecture does not expose."""


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The model's decoder layers, in order (``model.layers``, ``model.h``, ...)."""
    depth = int(model.config.num_hidden_layers)
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) == depth
    ]
    if not candidates:
        raise UnsupportedArchitectureError(
            f"{type(model).__name__}: found no list of {depth} decoder layers"
        )
    return min(candidates, key=lambda c: c[0].count("."))[1]  # the outermost one


def attention_output_projection(model: torch.nn.Module, layer: int) -> torch.nn.Module:
    """The module that maps layer ``layer``'s concatenated head outputs to the residual
    stream (its input is ``softmax(QK^T)V`` of every head, before ``W_O``)."""
    block = decoder_layers(model)[layer]
    for attention_name in ATTENTION_NAMES:
        attention = getattr(block, attention_name, None)
        if attention is None:
            continue
        for name in OUTPUT_PROJECTION_NAMES:
            projection = getattr(attention, name, None)
            if isinstance(projection, torch.nn.Module):
                return projection
    raise UnsupportedArchitectureError(
        f"{type(model).__name__} ({type(block).__name__}): no attention output projection "
        f"found (looked for {'/'.join(ATTENTION_NAMES)} . {'/'.join(OUTPUT_PROJECTION_NAMES)}); "
        "Contrastive Prompting cannot be applied to this architecture"
    )


VALUE_PROJECTION_NAMES = ("v_proj", "value", "v")


def attention_module(model: torch.nn.Module, layer: int) -> torch.nn.Module | None:
    """Layer ``layer``'s attention module (``self_attn``, ``attn``, ...), or None."""
    block = decoder_layers(model)[layer]
    for attention_name in ATTENTION_NAMES:
        attention = getattr(block, attention_name, None)
        if isinstance(attention, torch.nn.Module):
            return attention
    return None


def attention_value_projection(model: torch.nn.Module, layer: int) -> torch.nn.Module:
    """The module whose output is layer ``layer``'s attention values, every key/value head
    concatenated (``W_V LN(h)``). A fused query/key/value projection (GPT-2's ``c_attn``,
    GPT-NeoX's ``query_key_value``) is refused: where its value columns sit differs per family."""
    attention = attention_module(model, layer)
    for name in VALUE_PROJECTION_NAMES:
        projection = getattr(attention, name, None)
        if isinstance(projection, torch.nn.Module):
            return projection
    block = type(decoder_layers(model)[layer]).__name__
    raise UnsupportedArchitectureError(
        f"{type(model).__name__} ({block}): no separate attention value projection found "
        f"(looked for {'/'.join(ATTENTION_NAMES)} . {'/'.join(VALUE_PROJECTION_NAMES)}; a fused "
        "query/key/value projection such as GPT-2's c_attn is not split); VA cannot be read "
        "on this architecture (AlignedWVA, read at the output projection, can)"
    )


def hidden_states_argument(args: tuple, kwargs: dict) -> tuple[torch.Tensor, bool]:
    """A decoder layer's input hidden states, and whether they came positionally."""
    if args:
        return args[0], True
    return kwargs["hidden_states"], False
