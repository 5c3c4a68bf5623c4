"""A reba embedder as a sentence-transformers model (``pip install 'reba[st]'``).

>>> from reba.integrations.sentence_transformers import export_st
>>> export_st("reba-st", model="gemma-3-270m", method="reba", k=2)
>>> from sentence_transformers import SentenceTransformer
>>> st = SentenceTransformer("reba-st", trust_remote_code=True)   # the installed reba does the work

The folder holds no weights: ``reba_config.json`` records the configuration (model alias, path
or hub id, method, k, layer, include_prefix, max_length and any other ``Embedder`` keyword),
``reba_st.py`` is the module sentence-transformers loads with ``trust_remote_code=True`` (it
only imports :class:`RebaModule` from the installed ``reba``), and
``config_sentence_transformers.json`` holds the prompts and the similarity function.
``RebaModule`` hands each batch of texts to :meth:`reba.Embedder.embed`, so repetition,
templates, backward attention and batching are reba's, and ``encode`` equals
``Embedder.encode`` to float32 rounding. A prompt (``encode_query``, ``prompt_name``) is put
before the text, and the whole is what reba embeds (so it is repeated with the text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from reba.embedder import Embedder
from reba.errors import items_error
from reba.integrations._st_files import MODULE_SOURCE, model_card, st_config, write_json
from reba.models import BUNDLED_MODELS

try:
    import sentence_transformers  # noqa: F401  (the install hint below)
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "reba.integrations.sentence_transformers needs sentence-transformers; install it with:"
        "  pip install 'reba[st]'"
    ) from err
try:  # sentence-transformers 6
    from sentence_transformers.base.modules import InputModule
except ImportError:  # pragma: no cover - sentence-transformers 5
    from sentence_transformers.models import InputModule

__all__ = ["CONFIG_FILE", "MODULE_FILE", "RebaModule", "export_st"]

CONFIG_FILE = "reba_config.json"
MODULE_FILE = "reba_st.py"
SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


class RebaModule(InputModule):
    """A sentence-transformers input module that embeds whole texts with a ``reba.Embedder``.

    Give the configuration (``model``, ``method``, ``k``, ... as in ``reba_config.json``) or a
    ready ``embedder``. The model's weights are a submodule, so ``SentenceTransformer.to()``
    moves them; nothing is trained and ``save`` writes only the configuration.
    """

    config_file_name = CONFIG_FILE
    config_keys = [
        "model",
        "method",
        "k",
        "layer",
        "include_prefix",
        "max_length",
        "embedder_kwargs",
    ]
    save_in_root = True

    def __init__(
        self,
        model: str | None = None,
        method: str = "reba",
        k: int | None = None,
        layer: int | None = None,
        include_prefix: bool = False,
        max_length: int | None = None,
        embedder_kwargs: Mapping[str, Any] | None = None,
        *,
        embedder: Embedder | None = None,
        **ignored: Any,  # e.g. reba_version, dimension: recorded for people, not needed here
    ):
        super().__init__()
        self.embedder_kwargs = dict(embedder_kwargs or {})
        if embedder is None:
            if model is None:
                raise ValueError(f"{CONFIG_FILE} names no model")
            embedder = Embedder(
                model,
                method=method,
                k=k,
                layer=layer,
                include_prefix=include_prefix,
                max_length=max_length,
                **self.embedder_kwargs,
            )
        self.embedder = embedder
        self.model = loadable_reference(model if model is not None else embedder.model_name)
        self.auto_model = embedder.lm.model  # registered: ST's .to()/.half() reach the weights
        self.tokenizer = embedder.lm.tokenizer

    # --- the configuration, as sentence-transformers saves it --------------------------------
    @property
    def method(self) -> str:
        return self.embedder.method

    @property
    def k(self) -> int:
        return self.embedder.k

    @property
    def layer(self) -> int:
        return self.embedder.layer

    @property
    def include_prefix(self) -> bool:
        return self.embedder.config.include_prefix

    @property
    def max_length(self) -> int | None:
        return self.embedder.max_length

    @property
    def max_seq_length(self) -> int:
        """The longest model input in tokens (every copy of the text and the template count)."""
        return int(self.embedder.max_length or self.embedder.lm.max_length)

    def get_embedding_dimension(self) -> int:
        return self.embedder.dimension

    get_sentence_embedding_dimension = get_embedding_dimension  # sentence-transformers 5

    # --- inputs and forward ------------------------------------------------------------------
    def preprocess(self, inputs: Sequence[Any], prompt: str | None = None, **kwargs: Any) -> dict:
        """The texts themselves (reba tokenizes, repeats and templates them in ``forward``)."""
        bad = [i for i, text in enumerate(inputs) if not isinstance(text, str)]
        if bad:
            raise TypeError(f"reba embeds text only; input {bad[0]} is {type(inputs[bad[0]])}")
        return {"texts": [(prompt or "") + text for text in inputs]}

    def tokenize(self, texts: Sequence[str], **kwargs: Any) -> dict:  # sentence-transformers 5
        return self.preprocess(texts)

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        texts = features["texts"]
        result = self.embedder.embed(texts, batch_size=max(len(texts), 1), show_progress_bar=False)
        if result.failures:
            raise items_error(result.failures)
        embeddings = torch.from_numpy(result.embeddings).to(self.embedder.lm.device)
        features["sentence_embedding"] = embeddings
        return features

    # --- saving and loading ------------------------------------------------------------------
    def get_config_dict(self) -> dict[str, Any]:
        from reba import __version__

        return {
            **{key: getattr(self, key) for key in self.config_keys},
            "dimension": self.embedder.dimension,
            "reba_version": __version__,
        }

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        self.save_config(output_path)
        (Path(output_path) / MODULE_FILE).write_text(MODULE_SOURCE, encoding="utf-8")

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> RebaModule:
        hub = {
            key: kwargs[key]
            for key in ("token", "cache_folder", "revision", "local_files_only")
            if key in kwargs
        }
        config = cls.load_config(model_name_or_path, subfolder=subfolder, **hub)
        model_kwargs = kwargs.get("model_kwargs") or {}
        dtype = model_kwargs.get("dtype", model_kwargs.get("torch_dtype"))
        if dtype is not None:  # SentenceTransformer(..., model_kwargs={"dtype": ...}) wins
            config["embedder_kwargs"] = {**config.get("embedder_kwargs", {}), "dtype": dtype}
        return cls(**config)

    def __repr__(self) -> str:
        return f"RebaModule({self.embedder!r})"


def export_st(
    out_dir: str | Path,
    model: str | Embedder,
    *,
    method: str = "reba",
    k: int | None = None,
    layer: int | None = None,
    include_prefix: bool = False,
    max_length: int | None = None,
    prompts: Mapping[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str = "cosine",
    **embedder_kwargs: Any,
) -> Path:
    """Write a sentence-transformers model folder for a reba configuration; returns its path.

    ``model`` is a bundled alias, a local folder or ``.gguf`` file (recorded as an absolute
    path), a hub id, or a ready ``Embedder`` whose model was loaded from one of those. The
    configuration is checked by building the ``Embedder`` (the model is loaded) unless one is
    given. Other keywords (e.g. ``dtype``) are passed to ``Embedder`` and recorded as they are.
    """
    if similarity_fn_name not in SIMILARITY_FUNCTIONS:
        raise ValueError(
            f"similarity_fn_name must be one of {', '.join(SIMILARITY_FUNCTIONS)}, "
            f"got {similarity_fn_name!r}"
        )
    prompts = dict(prompts or {})
    if default_prompt_name is not None and default_prompt_name not in prompts:
        raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts")
    recorded = {key: _jsonable(value) for key, value in embedder_kwargs.items() if key != "device"}
    if isinstance(model, Embedder):
        module = RebaModule(embedder=model, embedder_kwargs=recorded)
    else:
        module = RebaModule(
            loadable_reference(model),
            method=method,
            k=k,
            layer=layer,
            include_prefix=include_prefix,
            max_length=max_length,
            embedder_kwargs=recorded,
            embedder=Embedder(
                model,
                method=method,
                k=k,
                layer=layer,
                include_prefix=include_prefix,
                max_length=max_length,
                **embedder_kwargs,
            ),
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    module.save(str(out))
    write_json(
        out / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": "reba_st.RebaModule"}]
    )
    write_json(
        out / "config_sentence_transformers.json",
        st_config(prompts, default_prompt_name, similarity_fn_name),
    )
    (out / "README.md").write_text(
        model_card(module, prompts, similarity_fn_name), encoding="utf-8"
    )
    return out


def loadable_reference(model: str | Path) -> str:
    """How a fresh process finds ``model``: an absolute path if it exists here, else the name
    (a bundled alias or a hub id); ``ValueError`` for a name nothing can load."""
    name = str(model)
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve())
    if name in BUNDLED_MODELS or ("/" in name and not name.startswith((".", "/", "~"))):
        return name
    raise ValueError(
        f"model {name!r} is not a bundled alias ({', '.join(BUNDLED_MODELS)}), an existing path "
        "or a hub id, so the exported folder could not load it; pass model= one of those"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    json.dumps(value)  # raises TypeError for what the configuration file cannot hold
    return value
