"""``reba`` as an `mteb <https://github.com/embeddings-benchmark/mteb>`_ (2.x) model.

>>> import mteb
>>> from reba.integrations.mteb import RebaMtebModel
>>> model = RebaMtebModel(model="gemma-3-270m", method="reba", k=2)
>>> model = RebaMtebModel(config="best.json")              # a saved reba.EmbedderConfig
>>> results = mteb.evaluate(model, mteb.get_tasks(tasks=["ATEC", "BQ"]))

The wrapper is an ``mteb`` encoder (a subclass of ``AbsEncoder``): ``encode`` receives mteb's
batches, embeds every text with :meth:`reba.Embedder.encode` in one call and returns a float32
array; similarity is cosine. ``mteb_model_meta`` describes the configuration: its name is
``reba/<model>-<method>-k<k>`` (plus ``-layer<l>``, ``-prefix``, ``-senteval`` and ``-max<n>``
when those are not the defaults), so results of different configurations are cached apart.

Task instructions are not used: texts are embedded exactly as mteb passes them (for retrieval,
mteb has already joined titles and bodies, and queries with their instructions).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from mteb.models import ModelMeta
    from mteb.models.abs_encoder import AbsEncoder
    from mteb.models.model_meta import ScoringFunction
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reba.integrations.mteb needs mteb 2.x; install it with:  pip install 'reba[eval]'"
    ) from err

from reba.config import EmbedderConfig
from reba.embedder import Embedder
from reba.models import BUNDLED_MODELS, DEFAULT_MODEL

if TYPE_CHECKING:
    from torch.utils.data import DataLoader

__all__ = ["RebaMtebModel", "mteb_model", "model_meta_for"]

# What mteb's metadata wants to know about the bundled models (the registry has the licence
# text only). Hub ids are of the original models the bundled weights were converted from.
_BUNDLED_INFO: dict[str, dict[str, Any]] = {
    "gemma-3-270m": {
        "source": "google/gemma-3-270m",
        "license": "https://ai.google.dev/gemma/terms",
        "languages": None,  # multilingual (Gemma 3 covers 140+ languages)
        "framework": ["PyTorch", "Transformers", "GGUF"],
    },
    "smollm2-135m": {
        "source": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "license": "apache-2.0",
        "languages": ["eng-Latn"],
        "framework": ["PyTorch", "Transformers", "GGUF"],
    },
    "minilm": {
        "source": "sentence-transformers/all-MiniLM-L6-v2",
        "license": "apache-2.0",
        "languages": ["eng-Latn"],
        "framework": ["PyTorch", "Transformers", "safetensors"],
    },
    **{
        f"qwen2.5-coder-{size}": {
            "source": f"Qwen/Qwen2.5-Coder-{size.upper()}-Instruct",
            "license": "apache-2.0",
            "languages": None,  # multilingual (code, English, Chinese, ...)
            "framework": ["PyTorch", "Transformers", "GGUF"],
        }
        for size in ("0.5b", "1.5b")
    },
    "tiny-random-llama": {
        "source": None,
        "license": "not specified",
        "languages": None,
        "framework": ["PyTorch", "Transformers", "GGUF"],
    },
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class RebaMtebModel(AbsEncoder):
    """An mteb encoder backed by a :class:`reba.Embedder`.

    Pass a ready ``embedder``; or a configuration as ``config`` (an :class:`reba.EmbedderConfig`,
    its dict or a saved file; ``device`` may be added); or the arguments to build one: ``model``
    (default ``"gemma-3-270m"``; an alias, a path, a hub id, a ``LoadedModel`` or a ``(model,
    tokenizer)`` pair) and any :class:`reba.Embedder` keyword (``method``, ``k``, ``layer``,
    ``max_length``, ``device``, ``dtype``, ...).

    ``batch_size`` is the batch size reba encodes with; mteb's own ``encode_kwargs["batch_size"]``
    only shapes the DataLoader that delivers the texts (reba sorts texts by length and batches
    them itself, and its results do not depend on the batch size).

    ``on_empty="zero"`` gives empty or whitespace-only texts a zero vector (cosine 0 with
    everything under mteb's similarity functions) instead of raising, for corpora that contain a
    few such entries. ``languages`` overrides the languages recorded in the metadata.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        model: Any = None,
        config: EmbedderConfig | dict | str | os.PathLike | None = None,
        batch_size: int = 16,
        on_empty: str = "raise",
        languages: list[str] | None = None,
        **embedder_kwargs: Any,
    ):
        if embedder is not None or config is not None:
            given = {"model": model, **embedder_kwargs}
            if embedder is None:  # a configuration may be given a device to run on
                given.pop("device", None)
            else:
                given["config"] = config
            extra = sorted(name for name, value in given.items() if value is not None)
            if extra:
                raise TypeError(
                    "pass an embedder, a config, or the arguments to build one: one of them "
                    f"(got {'embedder' if embedder is not None else 'config'} and "
                    f"{', '.join(extra)})"
                )
            if embedder is None:
                embedder = Embedder.from_config(config, device=embedder_kwargs.get("device"))
            elif not isinstance(embedder, Embedder):
                raise TypeError(f"embedder must be a reba.Embedder, got {type(embedder).__name__}")
        else:
            embedder = Embedder(DEFAULT_MODEL if model is None else model, **embedder_kwargs)
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if on_empty not in ("raise", "zero"):
            raise ValueError(f"on_empty must be 'raise' or 'zero', got {on_empty!r}")
        self.embedder = embedder
        self.model = embedder  # mteb's convention: the wrapped model
        self.batch_size = batch_size
        self.on_empty = on_empty
        self.mteb_model_meta = model_meta_for(
            embedder, batch_size=batch_size, on_empty=on_empty, languages=languages
        )

    def encode(
        self,
        inputs: DataLoader,
        *,
        task_metadata: Any,
        hf_split: str,
        hf_subset: str,
        prompt_type: Any = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Embed every text mteb's DataLoader yields: ``(n, d)`` float32, in order."""
        precision = kwargs.get("precision")
        if precision not in (None, "float32"):
            raise ValueError(
                f"reba embeddings are float32; precision={precision!r} is not supported"
            )
        texts = [text for batch in inputs for text in _batch_texts(batch)]
        show = kwargs.get("show_progress_bar")
        return self.encode_texts(texts, show_progress_bar=show)

    def encode_texts(
        self, texts: Iterable[str], show_progress_bar: bool | None = None
    ) -> np.ndarray:
        """Embed plain texts as :meth:`encode` does (same batch size and ``on_empty`` rule)."""
        texts = list(texts)
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        keep = list(range(len(texts)))
        if self.on_empty == "zero":
            keep = [i for i, t in enumerate(texts) if not (isinstance(t, str) and not t.strip())]
        if keep:
            matrix = self.embedder.encode(
                [texts[i] for i in keep],
                batch_size=self.batch_size,
                show_progress_bar=show_progress_bar,
            )
            out[keep] = np.asarray(matrix, dtype=np.float32)
        return out

    def __repr__(self) -> str:
        return f"RebaMtebModel({self.embedder!r}, batch_size={self.batch_size})"


def mteb_model(model: Any = DEFAULT_MODEL, **kwargs: Any) -> RebaMtebModel:
    """``RebaMtebModel(model=..., method=..., k=...)``: an mteb model from a reba configuration."""
    return RebaMtebModel(model=model, **kwargs)


def model_meta_for(
    embedder: Embedder,
    *,
    batch_size: int = 16,
    on_empty: str = "raise",
    languages: list[str] | None = None,
) -> ModelMeta:
    """The ``mteb.models.ModelMeta`` describing ``embedder``'s configuration."""
    from reba._version import __version__

    lm = embedder.lm
    alias = embedder.model_name
    info = _BUNDLED_INFO.get(alias, {})
    source = info.get("source") if alias in _BUNDLED_INFO else _hub_id(alias)
    licence = info.get("license")
    if licence is None and alias in BUNDLED_MODELS:
        licence = "not specified"
    params = list(lm.model.parameters())
    embeddings = (
        lm.model.get_input_embeddings() if hasattr(lm.model, "get_input_embeddings") else None
    )
    n_embedding = int(embeddings.weight.numel()) if embeddings is not None else None
    loader_kwargs: dict[str, Any] = {
        "config": embedder.config.to_dict(),
        "batch_size": batch_size,
        "on_empty": on_empty,
    }
    return ModelMeta(
        loader=_load_from_meta,
        loader_kwargs=loader_kwargs,
        name=f"reba/{_config_name(embedder)}",
        revision=f"reba-{__version__}",
        release_date=None,
        languages=languages if languages is not None else info.get("languages"),
        n_parameters=sum(int(p.numel()) for p in params),
        n_embedding_parameters=n_embedding,
        memory_usage_mb=round(sum(p.numel() * p.element_size() for p in params) / 2**20, 1),
        max_tokens=float(embedder.max_length or lm.max_length),
        embed_dim=embedder.dimension,
        license=licence,
        open_weights=True if (alias in BUNDLED_MODELS or source) else None,
        public_training_code=None,
        public_training_data=None,
        framework=info.get("framework", ["PyTorch", "Transformers"]),
        reference=f"https://huggingface.co/{source}" if source else None,
        similarity_fn_name=ScoringFunction.COSINE,
        use_instructions=False,
        # training-free pooling of a pretrained model; an encoder's fine-tuning data is unknown
        training_datasets=set() if lm.causal else None,
        adapted_from=source,
        model_type=["dense"],
        modalities=["text"],
    )


def _load_from_meta(model_name: str, revision: str | None = None, **kwargs: Any) -> RebaMtebModel:
    """``ModelMeta.load_model`` entry point: rebuild the wrapper from ``loader_kwargs``."""
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    return RebaMtebModel(**kwargs)


def _config_name(embedder: Embedder) -> str:
    method = re.sub(r"[^\w.+-]+", "_", embedder.method)  # e.g. ke+cp[alpha=2] -> ke+cp_alpha_2_
    name = f"{_slug(embedder.model_name)}-{method}-k{embedder.k}"
    if embedder.config.layer is not None:
        name += f"-layer{embedder.config.layer}"
    if embedder.config.preprocess:
        name += f"-{embedder.config.preprocess}"
    if embedder.config.include_prefix:
        name += "-prefix"
    if embedder.max_length is not None:
        name += f"-max{embedder.max_length}"
    if embedder.config.postprocess is not None:  # mteb keeps results per name
        name += f"-pp-{embedder.config.postprocess.kind}-{embedder.config.postprocess.sha256[:8]}"
    return name


def _slug(model_name: str) -> str:
    """A path-free model name: an alias or hub id as is ('/' -> '__'), a local path's stem."""
    if _hub_id(model_name) is None and (
        "/" in model_name or "\\" in model_name or model_name.endswith(".gguf")
    ):
        path = Path(model_name)
        model_name = path.stem if path.suffix == ".gguf" else path.name
    return re.sub(r"[^\w.-]+", "_", model_name.replace("/", "__")) or "model"


def _hub_id(name: str) -> str | None:
    """``name`` if it looks like a hub id (``org/name``) and is not an existing local path."""
    if _HUB_ID.match(name) and not Path(name).exists():
        return name
    return None


def _batch_texts(batch: Any) -> list[str]:
    if isinstance(batch, dict):
        if "text" not in batch:
            raise ValueError(
                f"reba embeds text only; this task's batches have keys {sorted(batch)}"
            )
        return list(batch["text"])
    return list(batch)
