"""A reba embedder as a sentence-transformers model (``pip install 'reba[st]'``).

>>> from reba.integrations.sentence_transformers import export_st
>>> export_st("reba-st", model="gemma-3-270m", method="reba", k=2)
>>> from sentence_transformers import SentenceTransformer
>>> st = SentenceTransformer("reba-st", trust_remote_code=True)   # the installed reba does the work

The folder holds no weights: ``reba_config.json`` is the embedder's configuration file
(:class:`reba.EmbedderConfig`, with the model as an alias, an absolute path or a hub id, so
``reba embed/serve --config <folder>/reba_config.json`` runs the same configuration),
``reba_st.py`` is the module sentence-transformers loads with ``trust_remote_code=True`` (it
only imports :class:`RebaModule` from the installed ``reba``), and
``config_sentence_transformers.json`` holds the prompts and the similarity function.
``RebaModule`` hands each batch of texts to :meth:`reba.Embedder.embed`, so repetition,
templates, backward attention and batching are reba's, and ``encode`` equals
``Embedder.encode`` to float32 rounding. A prompt (``encode_query``, ``prompt_name``) is put
before the text, and the whole is what reba embeds (so it is repeated with the text).
Folders written by reba 0.1 (the keywords without a schema) still load. A configuration with
post-processing (``Embedder.fit``, ``reba fit``) has its state copied into the folder
(``postprocess/``, referenced relatively, digest checked on load); ``RebaModule`` applies it
through ``Embedder.embed``, the one place every entry point applies it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from reba.config import SCHEMA, EmbedderConfig
from reba.embedder import Embedder
from reba.errors import items_error
from reba.integrations._st_files import MODULE_SOURCE, model_card, st_config, write_json
from reba.models import BUNDLED_MODELS, DEFAULT_MODEL

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
POSTPROCESS_DIR = "postprocess"  # the post-processing state's folder inside an export
SIMILARITY_FUNCTIONS = ("cosine", "dot", "euclidean", "manhattan")


class RebaModule(InputModule):
    """A sentence-transformers input module that embeds whole texts with a ``reba.Embedder``.

    Give a configuration (an :class:`reba.EmbedderConfig`, its dict, or a file) or a ready
    ``embedder``. The model's weights are a submodule, so ``SentenceTransformer.to()`` moves
    them; nothing is trained and ``save`` writes only the configuration file.
    """

    config_file_name = CONFIG_FILE
    config_keys: list[str] = []  # the file is an EmbedderConfig, written and read by reba
    save_in_root = True

    def __init__(
        self,
        config: EmbedderConfig | dict | str | os.PathLike | None = None,
        *,
        embedder: Embedder | None = None,
    ):
        super().__init__()
        if (config is None) == (embedder is None):
            raise TypeError("give RebaModule a configuration or an embedder (one of them)")
        self.embedder = embedder or Embedder.from_config(config)
        self.auto_model = self.embedder.lm.model  # registered: ST's .to()/.half() reach weights
        self.tokenizer = self.embedder.lm.tokenizer

    # --- the configuration, as sentence-transformers saves it --------------------------------
    @property
    def method(self) -> str:
        return self.embedder.method

    @property
    def k(self) -> int:
        return self.embedder.k

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
        """The configuration file's content, the model as another process finds it."""
        config = self.embedder.config
        config = config.replace(model=loadable_reference(config.model))
        if config.postprocess is not None:  # saved next to the file (see save)
            config = config.replace(postprocess=replace(config.postprocess, path=POSTPROCESS_DIR))
        return config.to_dict()

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        EmbedderConfig.from_dict(self.get_config_dict()).save(Path(output_path) / CONFIG_FILE)
        (Path(output_path) / MODULE_FILE).write_text(MODULE_SOURCE, encoding="utf-8")
        ref = self.embedder.config.postprocess
        target = Path(output_path) / POSTPROCESS_DIR
        if ref is not None and Path(ref.path).resolve() != target.resolve():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(ref.path, target)

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> RebaModule:
        hub = {
            key: kwargs[key]
            for key in ("token", "cache_folder", "revision", "local_files_only")
            if key in kwargs
        }
        data = cls.load_config(model_name_or_path, subfolder=subfolder, **hub)
        if not data:
            raise ValueError(f"{model_name_or_path}: no {CONFIG_FILE}")
        config = EmbedderConfig.from_dict(_upgraded(data), source=CONFIG_FILE)
        if config.postprocess is not None:  # relative to the folder, as EmbedderConfig.load
            folder = cls.load_dir_path(model_name_or_path, subfolder=subfolder, **hub)
            config = config.replace(postprocess=config.postprocess.resolved(folder))
        model_kwargs = kwargs.get("model_kwargs") or {}
        dtype = model_kwargs.get("dtype", model_kwargs.get("torch_dtype"))
        if dtype is not None:  # SentenceTransformer(..., model_kwargs={"dtype": ...}) wins
            config = config.replace(dtype=str(dtype).removeprefix("torch."))
        return cls(config)

    def __repr__(self) -> str:
        return f"RebaModule({self.embedder!r})"


def export_st(
    out_dir: str | Path,
    model: str | Embedder | None = None,
    *,
    config: EmbedderConfig | dict | str | os.PathLike | None = None,
    prompts: Mapping[str, str] | None = None,
    default_prompt_name: str | None = None,
    similarity_fn_name: str = "cosine",
    **embedder_kwargs: Any,
) -> Path:
    """Write a sentence-transformers model folder for a reba configuration; returns its path.

    Give ``config`` (an ``EmbedderConfig``, its dict or file), or ``model`` with ``Embedder``'s
    keywords (``method``, ``k``, ...), or a ready ``Embedder`` as ``model``. The model must be
    one another process can load: a bundled alias, a local folder or ``.gguf`` file (recorded
    as an absolute path) or a hub id. The configuration is checked by building the ``Embedder``
    (the model is loaded) unless one is given.
    """
    if similarity_fn_name not in SIMILARITY_FUNCTIONS:
        raise ValueError(
            f"similarity_fn_name must be one of {', '.join(SIMILARITY_FUNCTIONS)}, "
            f"got {similarity_fn_name!r}"
        )
    prompts = dict(prompts or {})
    if default_prompt_name is not None and default_prompt_name not in prompts:
        raise ValueError(f"default_prompt_name {default_prompt_name!r} is not one of the prompts")
    if config is not None:
        if model is not None or set(embedder_kwargs) - {"device"}:
            raise TypeError("give export_st a config or a model and its keywords, not both")
        embedder = Embedder.from_config(config, device=embedder_kwargs.get("device"))
    elif isinstance(model, Embedder):
        if embedder_kwargs:
            raise TypeError("export_st: a ready Embedder takes no keywords (it is configured)")
        embedder = model
    else:
        if model is not None:
            loadable_reference(model)  # before loading a model nobody else could find
        embedder = Embedder(DEFAULT_MODEL if model is None else model, **embedder_kwargs)
    module = RebaModule(embedder=embedder)
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


def _upgraded(data: dict[str, Any]) -> dict[str, Any]:
    """A reba 0.1 ``reba_config.json`` (``Embedder`` keywords, ``embedder_kwargs``, no schema)
    as a version 1 configuration."""
    if "schema" in data:
        return data
    data = {**data, **(data.get("embedder_kwargs") or {})}
    for recorded_only in ("embedder_kwargs", "dimension", "reba_version", "device"):
        data.pop(recorded_only, None)
    return {"schema": SCHEMA, "version": 1, **data}
