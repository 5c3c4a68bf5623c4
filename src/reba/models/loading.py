"""Load a model by bundled alias, local folder, local ``.gguf`` file or Hugging Face hub id.

Only the base model (no language-model head) is kept: embeddings need hidden states, and the
head of a modern LM (262k x 640 for Gemma 3) would cost more than the rest of the forward.
The methods that read through the head (EmbedFilter, PromptReps) get it from
:func:`unembedding`, the one path to it, only when they run.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from reba.errors import UnknownModelError
from reba.models.gguf import converted_folder
from reba.models.registry import BUNDLED_MODELS

logger = logging.getLogger(__name__)

CACHE_ENV = "REBA_CACHE"
_HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
_FALLBACK_MAX_LENGTH = 2048


@dataclass
class LoadedModel:
    """A base transformer, its tokenizer, and what the embedding code needs to know about them."""

    model: torch.nn.Module
    tokenizer: object
    name: str
    causal: bool  # False for bidirectional encoders (BERT-style)
    prefix_ids: tuple[int, ...]  # special tokens the tokenizer puts before a text (e.g. BOS)
    suffix_ids: tuple[int, ...]  # ... and after it (e.g. [SEP]); used for encoders only
    max_length: int  # longest input, in tokens, the model accepts
    source: str | None = None  # the local folder it was loaded from (see models.identity)
    head: torch.Tensor | None = None  # the un-embedding matrix, once a method needed it

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)


def cache_dir() -> Path:
    """Where converted models live: ``$REBA_CACHE``, else ``$XDG_CACHE_HOME/reba``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "reba"


def load_model(
    name_or_path: str | os.PathLike,
    *,
    device: str | torch.device | None = None,
    dtype: torch.dtype | str | None = None,
) -> LoadedModel:
    """Load a model for embedding; see the module docstring for what ``name_or_path`` may be."""
    name = str(name_or_path)
    source = _resolve_source(name)
    device = _pick_device(device)
    dtype = _pick_dtype(dtype, device)
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModel.from_pretrained(source, dtype=dtype, attn_implementation="sdpa")
    except OSError as err:
        raise UnknownModelError(
            f"could not load model {name!r} from {source}: {err}\n"
            f"Bundled aliases: {', '.join(BUNDLED_MODELS)}."
        ) from err
    lm = wrap_model(model.to(device), tokenizer, name=name)
    lm.source = _local_folder(source, model)
    return lm


def wrap_model(model: torch.nn.Module, tokenizer: object, name: str | None = None) -> LoadedModel:
    """Describe an already-loaded Hugging Face model (causal LM or encoder) for embedding."""
    base = getattr(model, "base_model", model)
    base.eval()
    prefix, suffix = _special_affixes(tokenizer)
    head = model.get_output_embeddings() if model is not base else None  # a causal LM's own
    return LoadedModel(
        model=base,
        tokenizer=tokenizer,
        name=name or getattr(base.config, "name_or_path", None) or type(base).__name__,
        causal=_is_causal(base),
        prefix_ids=prefix,
        suffix_ids=suffix,
        max_length=_max_length(base.config, tokenizer),
        head=_weight_of(head) if head is not None else None,
    )


def unembedding(lm: LoadedModel, *, keep: bool = False) -> torch.Tensor:
    """The model's un-embedding matrix (vocab x d, the LM head's weight), for the methods that
    read through it; the others never call this, so their models never hold a head.

    - a causal LM passed in memory: its own head (already in memory);
    - tied heads (``config.tie_word_embeddings``: Gemma 3, SmolLM2, GPT-2): the input
      embedding matrix, already loaded;
    - untied heads: only the tensor ``lm_head.weight`` read from the checkpoint's safetensors
      (the shard named in ``model.safetensors.index.json``), never the whole causal LM.

    ``keep``: remember it on ``lm`` (PromptReps multiplies it on every text); EmbedFilter
    needs it once, for its projection, and lets it go.
    """
    if lm.head is not None:
        return lm.head
    config = lm.model.config
    if getattr(config, "tie_word_embeddings", False):
        return lm.model.get_input_embeddings().weight.detach()
    head = _read_head(lm).to(lm.device, next(lm.model.parameters()).dtype)
    if keep:
        lm.head = head
    return head


def _weight_of(head: torch.nn.Module) -> torch.Tensor:
    if getattr(head, "bias", None) is not None:
        raise ValueError(
            f"{type(head).__name__}: an LM head with a bias is not supported by the read-outs "
            "through the head (EmbedFilter, PromptReps)"
        )
    return head.weight.detach()


def _read_head(lm: LoadedModel) -> torch.Tensor:
    """``lm_head.weight`` alone, from the safetensors files of the folder ``lm`` came from."""
    import json

    from safetensors import safe_open

    folder = Path(lm.source) if lm.source else None
    if folder is None or not folder.is_dir():
        raise ValueError(
            f"{lm.name}: its LM head is not tied to the input embeddings and was not loaded; "
            "reba reads it from the model's local folder (loaded here from "
            f"{lm.source or 'memory'}). Pass the causal LM itself "
            "(Embedder((AutoModelForCausalLM..., tokenizer))) or a local folder"
        )
    index = folder / "model.safetensors.index.json"
    if index.exists():
        shard = json.loads(index.read_text())["weight_map"].get("lm_head.weight")
        files = [folder / shard] if shard else []
    else:
        files = sorted(folder.glob("*.safetensors"))
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            if "lm_head.weight" in f.keys():  # noqa: SIM118 (safe_open has no __contains__)
                return f.get_tensor("lm_head.weight")
    raise ValueError(
        f"{lm.name}: no tensor 'lm_head.weight' in the safetensors files of {folder}; the head "
        "is needed by EmbedFilter and PromptReps"
    )


def _resolve_source(name: str) -> str:
    """A folder (or hub id) that ``from_pretrained`` can read."""
    sha256 = reinstall = None
    if name in BUNDLED_MODELS:
        bundled = BUNDLED_MODELS[name]
        path = bundled.weights_path(cache_dir())
        sha256, reinstall = bundled.sha256, bundled.reinstall
    elif Path(name).expanduser().exists():
        path = Path(name).expanduser()
    elif _HUB_ID.match(name) and not name.endswith(".gguf"):
        close = difflib.get_close_matches(name, BUNDLED_MODELS, n=1, cutoff=0.8)
        if close and "/" not in name:  # a typo, not a hub id: say so without a network round
            raise UnknownModelError(f"unknown model {name!r}; did you mean {close[0]!r}?")
        return name  # a hub id: transformers downloads it (needs a network)
    else:
        raise UnknownModelError(
            f"unknown model {name!r}: not a bundled alias ({', '.join(BUNDLED_MODELS)}), "
            "not an existing file or folder, and not a hub id of the form 'owner/name'"
        )
    if path.suffix == ".gguf":
        return str(converted_folder(path, cache_dir(), sha256, reinstall or ""))
    return str(path)


def _local_folder(source: str, model) -> str | None:
    """The folder the weights were read from: ``source``, or a hub id's snapshot folder."""
    if Path(source).is_dir():
        return source
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "config.json")
    except Exception:  # noqa: BLE001 - no snapshot to point at: the weights' digest is used
        return None
    return str(Path(found).parent) if isinstance(found, str) else None


def _pick_device(device: str | torch.device | None) -> torch.device:
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _pick_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype):
            raise ValueError(f"unknown dtype {dtype!r}; use e.g. 'float32' or 'bfloat16'")
        return resolved
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _special_affixes(tokenizer) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids the tokenizer adds around a text, found by tokenizing with and without them."""
    sample = "reba probe text"
    bare = tokenizer(sample, add_special_tokens=False)["input_ids"]
    full = tokenizer(sample, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return tuple(full[:start]), tuple(full[start + len(bare) :])
    raise ValueError("the tokenizer changes a text's own tokens when adding special tokens")


@torch.inference_mode()
def _is_causal(model: torch.nn.Module) -> bool:
    """True when changing a later token leaves an earlier token's hidden state unchanged."""
    device = next(model.parameters()).device
    vocab = int(model.config.vocab_size)
    ids = torch.tensor([[5 % vocab, 6 % vocab, 7 % vocab], [5 % vocab, 6 % vocab, 8 % vocab]])
    hidden = model(input_ids=ids.to(device)).last_hidden_state
    return bool(torch.equal(hidden[0, 0], hidden[1, 0]))


def _max_length(config, tokenizer) -> int:
    for key in ("max_position_embeddings", "n_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 1_000_000:
        return value
    return _FALLBACK_MAX_LENGTH
