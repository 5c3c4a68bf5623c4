"""MoEE's router weights, read from transformers' own output: a mixture-of-experts model
called with ``output_router_logits=True`` returns every MoE layer's router logits (Mixtral,
Qwen2-MoE, OLMoE in transformers 5; dense layers return none), as ``(rows * width, experts)``
per MoE layer. No hook and no per-architecture code: one table, the authors' normalisation
per family (``ROUTER_DEFAULTS``), keyed by the configuration's ``model_type``.
"""

from __future__ import annotations

import weakref

import numpy as np
import torch

from reba.methods.moee import RouterWeights
from reba.models import LoadedModel

# The authors' normalisation per family (tianyi-lab/MoE-Embedding, models/modeling_*.py):
# Qwen1.5-MoE and OLMoE: the raw router logits; DeepSeekMoE (not in transformers): softmax
# over all experts before top-k. Mixtral is not in the source: softmax, its router's own
# probabilities (MixtralTopKRouter), reba's choice.
ROUTER_DEFAULTS = {"qwen2_moe": "logits", "olmoe": "logits", "mixtral": "softmax"}

_experts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> experts per layer


def has_routers(lm: LoadedModel) -> bool:
    """Whether the model can return router logits (a mixture-of-experts configuration)."""
    return hasattr(lm.model.config, "output_router_logits")


def check_routers(lm: LoadedModel, part: RouterWeights, label: str) -> None:
    """Refuse MoEE on a model without routers, or ``router=auto`` on a family whose
    normalisation the table does not know; both messages say what to do."""
    if not has_routers(lm):
        raise ValueError(
            f"{label}: MoEE reads the routers of a mixture-of-experts model (Mixtral, "
            f"Qwen-MoE, OLMoE); {lm.name} ({type(lm.model).__name__}) has no routers. Use a "
            "method without moee (e.g. prompteol) on this model"
        )
    model_type = getattr(lm.model.config, "model_type", "?")
    if part.router == "auto" and model_type not in ROUTER_DEFAULTS:
        raise ValueError(
            f"{label}: router=auto knows the authors' normalisation for "
            f"{', '.join(ROUTER_DEFAULTS)}, not for {model_type!r}; choose "
            "moee[router=logits] or moee[router=softmax]"
        )


def router_mode(lm: LoadedModel, part: RouterWeights) -> str:
    """``logits`` or ``softmax`` for ``lm`` (``auto``: the table's)."""
    return ROUTER_DEFAULTS[lm.model.config.model_type] if part.router == "auto" else part.router


def experts_per_layer(lm: LoadedModel) -> tuple[int, ...]:
    """The number of experts of each MoE layer, in order (one probe forward of one token,
    once per model)."""
    if lm.model not in _experts:
        token = lm.prefix_ids[:1] or (lm.tokenizer.eos_token_id or 0,)
        ids = torch.tensor([list(token)], device=lm.device)
        with torch.inference_mode():
            out = lm.model(input_ids=ids, use_cache=False, output_router_logits=True)
        _experts[lm.model] = tuple(int(r.shape[-1]) for r in _router_logits(lm, out))
    return _experts[lm.model]


def routing_width(lm: LoadedModel) -> int:
    """The routing vector's dimension: experts summed over the MoE layers."""
    return sum(experts_per_layer(lm))


def router_logits(lm: LoadedModel, out, rows: int, width: int) -> torch.Tensor:
    """Every MoE layer's router logits of a forward output, concatenated per position:
    ``(rows, width, sum of experts)``."""
    return torch.cat([r.reshape(rows, width, -1) for r in _router_logits(lm, out)], dim=-1)


def routing_vector(lm: LoadedModel, part: RouterWeights, logits: torch.Tensor) -> np.ndarray:
    """One position's router weights (float64): its concatenated logits, normalised per layer
    (softmax over each layer's experts) when the mode is ``softmax``."""
    values = logits.double()
    if router_mode(lm, part) == "softmax":
        layers = torch.split(values, list(experts_per_layer(lm)))
        values = torch.cat([torch.softmax(layer, dim=-1) for layer in layers])
    return values.numpy()


def _router_logits(lm: LoadedModel, out) -> tuple[torch.Tensor, ...]:
    logits = getattr(out, "router_logits", None)
    if not logits:
        raise ValueError(
            f"{lm.name} ({type(lm.model).__name__}) returned no router logits with "
            "output_router_logits=True; MoEE needs them"
        )
    return tuple(logits)
