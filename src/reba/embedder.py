"""``Embedder``: the sentence-transformers-shaped entry point."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reba._version import VECTORS_REVISION, __version__
from reba.config import EmbedderConfig, as_config
from reba.engine import EmbedResult, check_method, embed_configs, truncated_items
from reba.engine.explain import Explanation, explain_configs
from reba.errors import items_error
from reba.methods import EmbeddingConfig, Level, Recipe, parse_method, register_method
from reba.methods.serialize import recipe_to_dict
from reba.models import DEFAULT_MODEL, LoadedModel, load_model
from reba.models.identity import model_digest
from reba.postprocess import PostState


class Embedder:
    """Embed sentences or words in context with a causal LM and a pooling method.

    >>> emb = Embedder("gemma-3-270m", method="reba", k=2)
    >>> E = emb.encode(["一句话", "another text"])                       # (2, d) float32
    >>> W = emb.encode_words([("我们去银行取钱", "银行"), ("sentence text", (9, 13))])

    ``model`` is a bundled alias, a local folder or ``.gguf`` file, a hub id, a
    :class:`LoadedModel`, or a ``(model, tokenizer)`` pair already in memory. ``method`` is a
    preset name (``reba``, ``pcot``, ``prompteol+tp``, ...), a combination (``pcot+reba``,
    ``ke+cp[alpha=2]``) or a :class:`reba.methods.Recipe` (registered under ``name``). ``k``
    defaults to the method's (2 for echo and reba, 1 otherwise); ``layer`` to the method's own
    read-out layer (e.g. -2 for pcot); ``preprocess="senteval"`` applies SentEval's English
    STS preprocessing.
    """

    def __init__(
        self,
        model: str | LoadedModel | tuple[Any, Any] = DEFAULT_MODEL,
        *,
        method: str | Recipe = "reba",
        k: int | None = None,
        layer: int | None = None,
        include_prefix: bool = False,
        preprocess: str | None = None,
        max_length: int | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        name: str | None = None,
    ):
        if isinstance(method, Recipe):
            register_method(name or "custom", method)
            method = name or "custom"
        in_memory = not isinstance(model, str | os.PathLike)
        config = EmbedderConfig(  # the one place the keywords become a configuration
            model="in-memory" if in_memory else str(model),
            method=method,
            k=k,
            layer=layer,
            include_prefix=include_prefix,
            preprocess=preprocess,
            max_length=max_length,
            dtype=_dtype_text(dtype),
        )
        self._setup(config, model if in_memory else None, device)

    @classmethod
    def from_config(
        cls,
        config: EmbedderConfig | dict | str | os.PathLike,
        *,
        model: LoadedModel | tuple[Any, Any] | None = None,
        device: str | torch.device | None = None,
    ) -> Embedder:
        """An embedder from a configuration (an ``EmbedderConfig``, a dict, or a saved file).

        ``model`` shares a model already in memory (it must be the configuration's model in
        the configuration's dtype); ``device`` chooses where it runs (not part of a
        configuration)."""
        embedder = cls.__new__(cls)
        embedder._setup(as_config(config), model, device)
        return embedder

    def _setup(self, config: EmbedderConfig, model, device) -> None:
        """Resolve the method's defaults (checked before any model is loaded), then load or
        wrap the model and record the dtype it runs in."""
        parsed = parse_method(config.method)
        config = config.replace(
            method=parsed.name, k=parsed.recipe.default_k if config.k is None else config.k
        )
        self.lm = _as_loaded(
            config.model if model is None else model, device=device, dtype=config.dtype
        )
        if config.model == "in-memory":
            config = config.replace(model=self.lm.name)
        self.config = config.replace(dtype=_dtype_name(self.lm))
        self._validate()
        self._post = self._load_postprocess()

    # --- configuration, readable -------------------------------------------------------------
    @property
    def max_length(self) -> int | None:
        return self.config.max_length

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def k(self) -> int:
        return self.config.k

    @property
    def layer(self) -> int:
        """The hidden layer read (the method's own unless one was given)."""
        return self._method.layer

    @property
    def model_name(self) -> str:
        return self.lm.name

    @property
    def dimension(self) -> int:
        """The dense vectors' dimension (fewer than the model's with EmbedFilter; the hidden
        state's plus the routing vector's with MoEE; the values' width with VA; the state's
        output after post-processing, e.g. a whitening to fewer dimensions)."""
        if self._post is not None:
            return self._post.dim_out
        return self._base_dimension()

    def _base_dimension(self) -> int:
        """The recipe's vectors' dimension, before post-processing."""
        from reba.engine.embed import dimension

        return dimension(self.lm, self._method)

    def describe(self) -> dict[str, Any]:
        """Everything that changes a vector, for storing next to embeddings and comparing
        before adding to them: the model's identity (a digest of its files or weights), the
        configuration resolved on this model (the recipe's full content: templates and their
        tokenization, read-out, layer, intervention parameters), the dtype and device type
        it runs in, reba's version and its vectors revision. ``embedder_config`` is the
        configuration as its file, so ``EmbedderConfig.from_dict(described["embedder_config"])``
        rebuilds it."""
        bound = self._method.bind(self.lm.num_layers)
        recipe = recipe_to_dict(bound.recipe)
        del recipe["description"]
        return {
            "model": self.model_name,
            "model_digest": model_digest(self.lm),
            "method": self.method,
            "k": self.k,
            "layer": self.layer,
            "include_prefix": self.config.include_prefix,
            "preprocess": self.config.preprocess,
            "max_length": self.max_length or self.lm.max_length,
            "dtype": self.config.dtype,
            "device_type": self.lm.device.type,
            "dimension": self.dimension,
            "recipe": recipe,
            **self._describe_heads(),
            **self._describe_postprocess(),
            "reba_version": __version__,
            "vectors_revision": VECTORS_REVISION,
            "embedder_config": self.config.to_dict(),
        }

    def _describe_heads(self) -> dict[str, Any]:
        """The read-outs through the LM head, with the EmbedFilter projection's digest."""
        import dataclasses

        from reba.engine.heads import projection_of

        recipe, out = self._method.recipe, {}
        if recipe.embedfilter is not None:
            state = projection_of(self.lm, recipe.embedfilter)
            out["embedfilter"] = {**state.params, "sha256": state.digest}
        if recipe.sparse is not None:
            out["sparse"] = dataclasses.asdict(recipe.sparse)
        if recipe.moee is not None:  # reba.moee: the vector's layout and its statistics
            hidden, width = self.lm.dimension, self._base_dimension()
            out["moee"] = {**dataclasses.asdict(recipe.moee), "hidden": hidden}
            out["moee"].update(routing=width - hidden, **recipe.moee.statistics_digest())
        if recipe.icl is not None:  # the demonstration and the pool it came from
            demo = recipe.icl.demonstration()
            out["icl"] = {**dataclasses.asdict(recipe.icl), **recipe.icl.pool_digest()}
            out["icl"].update(sentence=demo.sentence, word=demo.word)
        return out

    def _describe_postprocess(self) -> dict[str, Any]:
        """The post-processing state (kind, params, digest, what it was fitted on), if any."""
        if self._post is None:
            return {}
        meta = {k: v for k, v in self._post.meta().items() if k != "format"}
        return {"postprocess": {**meta, "sha256": self.config.postprocess.sha256}}

    # --- post-processing ---------------------------------------------------------------------
    def fit(
        self,
        texts: Iterable[str],
        kind: str = "abtt",
        *,
        out: str | os.PathLike,
        batch_size: int = 16,
        **params: Any,
    ) -> Embedder:
        """Fit post-processing on the sentence vectors of ``texts`` (unlabelled), save the state
        in the folder ``out``, and return an embedder (sharing this one's model) whose
        configuration references it: ``kind`` is ``mean``, ``abtt`` (``k=``, ``projection=``)
        or ``whitening`` (``dims=``). Fitted on the recipe's vectors after the read-out (after
        EmbedFilter's projection), before normalisation; this embedder's own post-processing,
        if any, is not applied first: the new state replaces it."""
        from reba.postprocess import fit, save_state
        from reba.postprocess.reference import PostprocessRef
        from reba.postprocess.source import fit_source

        texts = list(texts)
        vectors = self._strict_base(texts, batch_size)
        state = fit(kind, vectors, source=fit_source(self.lm, self._method, texts), **params)
        save_state(state, out)
        ref = PostprocessRef.of(state, Path(out).resolve())
        return Embedder.from_config(self.config.replace(postprocess=ref), model=self.lm)

    def _load_postprocess(self) -> PostState | None:
        """The configuration's post-processing state, verified (digest, kind, dimension, and
        what it was fitted on), or ``None``."""
        from reba.postprocess.source import check_source

        ref = self.config.postprocess
        if ref is None:
            return None
        state = ref.load(dim=self._base_dimension())
        check_source(state, self.lm, self._method, ref.path)
        return state

    # --- embedding ---------------------------------------------------------------------------
    def encode(
        self,
        texts: Iterable[str] | str,
        batch_size: int = 16,
        normalize: bool = False,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Sentence embeddings, ``(n, d)`` float32 in input order. Bad items raise, naming them."""
        single = isinstance(texts, str)
        matrix = self._strict(
            [texts] if single else list(texts),
            "sentence",
            batch_size,
            normalize,
            show_progress_bar,
        )
        return matrix[0] if single else matrix

    def encode_words(
        self,
        items: Iterable[tuple[str, str | tuple[int, int]]],
        batch_size: int = 16,
        normalize: bool = False,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Word-in-context embeddings of ``(text, word)`` (first occurrence) or
        ``(text, (start, end))`` (character span) items: ``(n, d)`` float32 in input order."""
        return self._strict(list(items), "word", batch_size, normalize, show_progress_bar)

    def encode_sparse(
        self, texts: Iterable[str] | str, batch_size: int = 16
    ) -> list[dict[int, float]] | dict[int, float]:
        """PromptReps' sparse vectors (methods with a sparse read-out, e.g. ``promptreps``):
        ``{token id: log(1 + relu(logit))}`` per text, in input order; the dense vectors come
        from ``encode`` (or both at once from ``embed``: ``EmbedResult.sparse``). Score them
        with ``reba.sparse`` (``sparse_scores``, ``fused_scores``)."""
        if self._method.recipe.sparse is None:
            raise ValueError(
                f"method {self.method!r} has no sparse read-out; use e.g. 'promptreps' or "
                f"'{self.method}+sparse'"
            )
        single = isinstance(texts, str)
        result = self.embed([texts] if single else list(texts), batch_size=batch_size)
        if result.failures:
            raise items_error(result.failures)
        return result.sparse[0] if single else result.sparse

    def embed(
        self,
        items: Iterable[Any],
        *,
        level: Level = "sentence",
        batch_size: int = 16,
        normalize: bool = False,
        show_progress_bar: bool | None = None,
        packing: bool = False,
    ) -> EmbedResult:
        """Like ``encode``/``encode_words`` but tolerant: bad items are reported, not raised.

        ``packing=True`` runs several short inputs per model row (``reba.packing``): faster on
        unsorted groups of short texts, equal to float32 rounding. The configuration's
        post-processing, if any, is applied before ``normalize``.
        """
        if self._post is not None and level != "sentence":
            raise ValueError(
                f"post-processing ({self._post.kind}) is fitted on sentence vectors; embedding "
                f"at level {level!r} with it is not supported (use a configuration without it)"
            )
        result = self._embed_base(items, level, batch_size, show_progress_bar, packing)
        if self._post is not None:
            result.embeddings = self._post.apply(result.embeddings)
        if normalize:
            result.embeddings = _normalize(result.embeddings)
        return result

    def _embed_base(self, items, level, batch_size, show_progress_bar, packing) -> EmbedResult:
        """The recipe's vectors, before post-processing and normalisation."""
        result = embed_configs(
            self.lm,
            list(items),
            [self._method_config],
            level=level,
            batch_size=batch_size,
            max_length=self.max_length,
            show_progress_bar=show_progress_bar,
            packing=packing,
        )[self._method_config]
        return result

    def _strict_base(self, texts: list[str], batch_size: int) -> np.ndarray:
        result = self._embed_base(texts, "sentence", batch_size, None, False)
        if result.failures:
            raise items_error(result.failures)
        return result.embeddings

    def truncated(self, items: Iterable[Any], *, level: Level = "sentence") -> list[int]:
        """The positions of ``items`` that ``embed`` would cut to fit ``max_length``, found by
        the tokenizer alone (no forward pass; e.g. to refuse a request before queueing it)."""
        config = self._method_config
        found = truncated_items(
            self.lm, list(items), [config], level=level, max_length=self.max_length
        )
        return found[config]

    def explain(self, item: str | tuple[str, str | tuple[int, int]]) -> Explanation:
        """Which tokens this configuration's embedding of ``item`` weighs: a text, or a
        ``(text, word|span)`` word in context. Returns a :class:`reba.engine.explain.Explanation`
        (the tokens as the model sees them, their segments, the normalised read-out weights and
        the embedding), taken from the embedding run itself. A bad item raises, naming it."""
        level: Level = "sentence" if isinstance(item, str) else "word"
        [explained] = self.explain_many([item if level == "sentence" else tuple(item)], level)
        return explained

    def explain_many(self, items: Iterable[Any], level: Level = "sentence") -> list[Explanation]:
        """``explain`` for several texts (or, ``level="word"``, ``(text, word|span)`` items)
        in one run, in input order."""
        config = self._method_config
        return explain_configs(
            self.lm, list(items), [config], level=level, max_length=self.max_length
        )[config]

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity between the rows of ``a`` and ``b``: ``(len(a), len(b))``."""
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        return _normalize(a) @ _normalize(b).T

    def _strict(self, items, level, batch_size, normalize, show_progress_bar) -> np.ndarray:
        result = self.embed(
            items,
            level=level,
            batch_size=batch_size,
            normalize=normalize,
            show_progress_bar=show_progress_bar,
        )
        if result.failures:
            raise items_error(result.failures)
        return result.embeddings

    @property
    def _method_config(self) -> EmbeddingConfig:
        """The engine's view of the configuration (method, k, layer, options)."""
        c = self.config
        return EmbeddingConfig(c.method, c.k, c.layer, c.include_prefix, c.preprocess)

    def _validate(self) -> None:
        """Fail at construction, not at the first encode, for impossible configurations
        (word-level forms are checked by ``encode_words``)."""
        self._method = check_method(self.lm, self._method_config, "sentence")

    def __repr__(self) -> str:
        return (
            f"Embedder({self.model_name!r}, method={self.method!r}, k={self.k}, layer={self.layer})"
        )


def _as_loaded(model, *, device, dtype) -> LoadedModel:
    from reba.models import wrap_model

    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, tuple) and len(model) == 2:
        return wrap_model(*model)
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        return load_model(model, device=device, dtype=dtype)
    raise TypeError(
        "model must be a model name or path, a LoadedModel, or a (model, tokenizer) pair; "
        f"got {type(model).__name__}"
    )


def _dtype_text(dtype: torch.dtype | str | None) -> str | None:
    return str(dtype).removeprefix("torch.") if isinstance(dtype, torch.dtype) else dtype


def _dtype_name(lm: LoadedModel) -> str | None:
    dtype = getattr(lm.model, "dtype", None)
    return _dtype_text(dtype) if isinstance(dtype, torch.dtype) else None


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.maximum(norms, np.finfo(np.float32).tiny)
