"""Embedding many items with one or many configurations, sharing forward passes.

Each configuration reads one or more inputs (MetaEOL reads eight prompts); each (configuration,
input) pair is a *reader*. Readers that need the same model input (same template or
repetition, same intervention, same preprocessing) form a group that shares one forward pass
per distinct input: for a repetition, every k <= K is read off the K-copy forward (under causal
attention the first ``p + k*n`` positions of a K-copy input *are* the k-copy input); items whose
model inputs are identical (the same sentence with several word targets, a repeated text) run
once, keeping the union of the attention columns their read-outs need.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from reba.engine.forward import ForwardPlan, Request, run_forward
from reba.engine.heads import projection_of, sparse_vector
from reba.engine.moee import check_moee, finish_moee, moee_dimension
from reba.engine.result import Collected, EmbedResult, averaged
from reba.engine.routers import routing_vector
from reba.engine.values import check_values, read_width
from reba.errors import ItemFailure
from reba.inputs import (
    Item,
    PreparedInput,
    Tokenizer,
    build_repetition,
    build_template,
    check_texts,
    check_words,
    repetition_prefix,
)
from reba.inputs.markers import htp_template
from reba.inputs.sentences import SPLITTERS
from reba.inputs.templates import PREPROCESSORS, with_placeholder
from reba.methods import (
    ContrastivePrompting,
    EmbeddingConfig,
    ForwardOutput,
    HierarchicalTokenPrepending,
    Level,
    Method,
    Prompt,
    Repetition,
    TokenPrepending,
    check_config,
)
from reba.methods.readouts import attention_columns, attention_rows, pool, weights
from reba.models import LoadedModel
from reba.postprocess.embedfilter import selected_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pooled:
    """One read-out as it was pooled: configuration ``config`` read its input number ``input``
    (of the recipe's inputs) ``item`` with weights ``weights`` over its positions into
    ``vector`` (before any averaging over inputs)."""

    config: EmbeddingConfig
    input: int
    item: PreparedInput
    weights: torch.Tensor  # (N,), unnormalised
    vector: np.ndarray  # (d,) float32


@dataclass(frozen=True)
class Reader:
    """One configuration reading one of its inputs."""

    config: EmbeddingConfig
    method: Method
    input: int  # which of the recipe's inputs

    @property
    def spec(self) -> Repetition | Prompt:
        return self.method.recipe.input_specs()[self.input]

    def group(self) -> tuple:
        """Readers with equal groups share forward passes."""
        return self.spec, self.method.recipe.intervention, self.method.config.preprocess


def embed_configs(
    lm: LoadedModel,
    items: Sequence[object],
    configs: Sequence[EmbeddingConfig],
    *,
    level: Level = "sentence",
    batch_size: int = 16,
    max_length: int | None = None,
    show_progress_bar: bool | None = None,
    packing: bool = False,
    observe: Callable[[Pooled], None] | None = None,
) -> dict[EmbeddingConfig, EmbedResult]:
    """Embed ``items`` (texts, or ``(text, word|span)`` pairs) with every config in ``configs``.

    ``packing`` puts several short inputs in one row (see ``reba.engine.packing``): faster for
    inputs in no particular order, such as a server's micro-batches; the same results to
    float32 rounding. ``observe`` is called with every read-out as it is pooled (the input,
    its weights and vector: ``reba.engine.explain`` shows them).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    methods, checked, failures, groups, collected = _plan(lm, items, configs, level)
    run = _Run(
        lm, level, batch_size, max_length or lm.max_length, packing, collected, observe=observe
    )
    total = len(checked) * len(groups)
    with progress_bar(show_progress_bar, total=total, desc="embedding", unit="input") as bar:
        for group in groups.values():
            run.group(checked, group, bar)
    results = {}
    for cfg, method in methods.items():
        parts = [collected[(cfg, i)] for i in range(len(method.recipe.inputs))]
        results[cfg] = averaged(parts).result(failures, dimension(lm, method))
        if method.recipe.moee is not None:
            results[cfg] = finish_moee(lm, method, results[cfg])
    return results


def dimension(lm: LoadedModel, method: Method) -> int:
    """The dense vectors' dimension of ``method`` on ``lm``."""
    return method.dimension(read_width(lm, method)) + moee_dimension(lm, method)


def truncated_items(
    lm: LoadedModel,
    items: Sequence[object],
    configs: Sequence[EmbeddingConfig],
    *,
    level: Level = "sentence",
    max_length: int | None = None,
) -> dict[EmbeddingConfig, list[int]]:
    """The positions of ``items`` that ``embed_configs`` would cut to fit ``max_length``, per
    configuration: the inputs are built (tokenization only) and no forward pass runs."""
    methods, checked, _, groups, collected = _plan(lm, items, configs, level)
    run = _Run(lm, level, 1, max_length or lm.max_length, False, collected, forward=False)
    for group in groups.values():
        run.group(checked, group)
    return {
        cfg: sorted(
            set().union(*(collected[(cfg, i)].truncated for i in range(len(m.recipe.inputs))))
        )
        for cfg, m in methods.items()
    }


def _plan(lm: LoadedModel, items: Sequence[object], configs, level: Level):
    """Checked methods and items, readers grouped by shared forward pass, empty collections."""
    methods = {cfg: check_method(lm, cfg, level) for cfg in configs}
    checked, failures = (check_texts if level == "sentence" else check_words)(list(items))
    readers = [Reader(cfg, m, i) for cfg, m in methods.items() for i in range(len(m.recipe.inputs))]
    groups: dict[tuple, list[Reader]] = defaultdict(list)
    for reader in readers:
        groups[reader.group()].append(reader)
    collected = {(r.config, r.input): _collector(r) for r in readers}
    return methods, checked, failures, groups, collected


def _collector(reader: Reader) -> Collected:
    return Collected(sparse=None if reader.method.recipe.sparse is None else {})


def check_method(lm: LoadedModel, config: EmbeddingConfig, level: Level) -> Method:
    """``config`` checked for ``level`` and bound to ``lm``'s depth; errors name the problem."""
    method = check_config(config, level)
    part = method.recipe.embedfilter
    if part is not None:
        selected_rows(lm.dimension, part.kept(lm.dimension), part.selection, part.start)
    if part is not None and method.layer not in (-1, lm.num_layers):
        logger.warning(
            "%s: EmbedFilter projects layer %s, but the head it comes from reads the last "
            "layer's normed state (the authors project only that)",
            config.label(),
            method.layer,
        )
    if method.recipe.moee is not None:
        check_moee(lm, method)
    if method.recipe.values is not None:
        check_values(lm, method.recipe.values)
        if config.layer is not None and config.layer != method.recipe.layer:
            raise ValueError(
                f"{config.label()}: {method.recipe.values.name} averages a range of layers, "
                f"set by its start/end (e.g. {method.recipe.values.name}[start=2,end=-1]), "
                "not by a read-out layer"
            )
    if not lm.causal and (method.name != "mean" or method.copies != 1):
        raise ValueError(
            f"{lm.name} is a bidirectional encoder: only method 'mean' applies "
            "(repetition, prompts and backward attention are for causal language models), "
            f"got {config.label()}"
        )
    return method.bind(lm.num_layers)


@dataclass
class _Run:
    lm: LoadedModel
    level: Level
    batch_size: int
    max_length: int
    packing: bool
    collected: dict[tuple[EmbeddingConfig, int], Collected]
    forward: bool = True  # False: build the inputs and note which were cut, no model call
    observe: Callable[[Pooled], None] | None = None

    @property
    def tokenizer(self) -> Tokenizer:
        return Tokenizer(self.lm.tokenizer, self.lm.prefix_ids, self.lm.suffix_ids)

    def group(self, items: list[Item], readers: list[Reader], bar=None) -> None:
        """Embed ``items`` for every reader of one group."""
        preprocess = readers[0].method.config.preprocess
        if preprocess is not None:
            items = [dataclasses.replace(i, text=PREPROCESSORS[preprocess](i.text)) for i in items]
        self._group(items, readers, bar)

    def _group(self, items: list[Item], readers: list[Reader], bar=None) -> None:
        spec, intervention, _ = readers[0].group()
        if isinstance(spec, Repetition):
            prepared, failures = self._repetition(items, readers)
        else:
            prepared, failures = self._template(items, spec, intervention)
        for failure in failures:
            for reader in readers:
                self.collected[(reader.config, reader.input)].fail(failure)
        self._forward(prepared, readers, intervention, bar)

    def _repetition(self, items, readers):
        """Inputs at the largest k; items cut or rejected there (truncation depends on k) are
        redone at each smaller k on their own."""
        copies = {r.method.copies for r in readers}
        largest = max(copies)
        prepared, failures = build_repetition(
            self.tokenizer,
            items,
            copies=largest,
            max_length=self.max_length,
            with_suffix=not self.lm.causal,
            report=len(copies) == 1 and self.forward,
        )
        if len(copies) == 1:
            return prepared, failures
        redo = {f.index for f in failures} | {p.index for p in prepared if p.truncated_from}
        for k in sorted(copies):
            same_k = [r for r in readers if r.method.copies == k]
            self._group([i for i in items if i.index in redo], same_k)
        return [p for p in prepared if p.index not in redo], []

    def _template(self, items, spec: Prompt, intervention):
        auxiliary = (
            intervention.auxiliary if isinstance(intervention, ContrastivePrompting) else None
        )
        template = spec.template
        if isinstance(intervention, TokenPrepending):
            template = with_placeholder(template)
        htp = isinstance(intervention, HierarchicalTokenPrepending)
        if htp:
            template = htp_template(template)
        prepared, failures = build_template(
            self.tokenizer,
            items,
            template,
            whole=spec.whole,
            max_length=self.max_length,
            also_fits=(auxiliary,) if auxiliary else (),
            report=self.forward,
            sentences=SPLITTERS[intervention.splitter] if htp else None,
            begin=bool(htp and intervention.begin),
            ends=spec.ends,
        )
        return prepared, failures

    def _forward(self, prepared: list[PreparedInput], readers: list[Reader], intervention, bar):
        if not self.forward:
            for reader in readers:
                cut = {p.index for p in prepared if p.truncated_from is not None}
                self.collected[(reader.config, reader.input)].truncated |= cut
            return
        members: dict[tuple, list[PreparedInput]] = defaultdict(list)
        for p in prepared:
            members[p.forward_key()].append(p)
        requests = [self._request(group, readers, intervention) for group in members.values()]
        attention = any(r.method.recipe.readout in ("reba", "reba-last") for r in readers)
        layers = {r.method.layer for r in readers}
        layers |= {-1} if any(r.method.recipe.sparse for r in readers) else set()  # logits
        routers = any(r.method.recipe.moee for r in readers)
        values = tuple(dict.fromkeys(r.method.recipe.values for r in readers))
        values = tuple(v for v in values if v is not None)
        plan = ForwardPlan(tuple(sorted(layers)), attention, intervention, routers, values)
        for request, out in run_forward(self.lm, requests, plan, self.batch_size, self.packing):
            group = members[request.input.forward_key()]
            for member in group:
                for reader in readers:
                    self._pool(member, out, reader)
            if bar is not None:
                bar.update(len(group))

    def _request(self, group: list[PreparedInput], readers: list[Reader], intervention) -> Request:
        columns: set[int] = set()
        rows: set[int] = set()
        for member in group:
            for reader in readers:
                item = self._view(member, reader)
                readout = reader.method.recipe.readout
                prefix = reader.config.include_prefix
                columns.update(attention_columns(readout, self.level, item, prefix))
                rows.update(attention_rows(readout, item))
        auxiliary = None
        if isinstance(intervention, ContrastivePrompting):
            auxiliary = self._auxiliary(group[0], readers[0].spec, intervention)
        return Request(group[0], sorted(columns), sorted(rows), auxiliary)

    def _auxiliary(self, main: PreparedInput, spec: Prompt, cp: ContrastivePrompting):
        [aux], failures = build_template(
            self.tokenizer,
            [Item(main.index, main.text)],
            cp.auxiliary,
            whole=spec.whole,
            max_length=self.max_length,
            report=False,
            ends=spec.ends,
        )
        return aux

    @staticmethod
    def _view(item: PreparedInput, reader: Reader) -> PreparedInput:
        if isinstance(reader.spec, Repetition):
            return repetition_prefix(item, reader.method.copies)
        return item

    def _pool(self, member: PreparedInput, out: ForwardOutput, reader: Reader) -> None:
        item = self._view(member, reader)
        view = _prefix_of(out, item.length)
        method = reader.method
        w = weights(method.recipe.readout, self.level, item, view, reader.config.include_prefix)
        values = method.recipe.values
        vector = pool(view.hidden[method.layer] if values is None else view.values[values], w)
        vector = vector.numpy()
        collected = self.collected[(reader.config, reader.input)]
        if not np.isfinite(vector).all():
            failure = _non_finite(item, reader.config)
            logger.error("reba: %s", failure)
            collected.fail(failure)
            return
        if self.observe is not None:
            self.observe(Pooled(reader.config, reader.input, item, w, vector))
        recipe = method.recipe
        if recipe.embedfilter is not None:
            vector = projection_of(self.lm, recipe.embedfilter).apply(vector[None])[0]
        if recipe.moee is not None:  # raw [HS, RW]; z-scored and combined by finish_moee
            routing = routing_vector(self.lm, recipe.moee, view.routing[item.last])
            vector = np.concatenate([vector, routing.astype(vector.dtype)])
        if recipe.sparse is not None:
            last = view.hidden[-1][item.last]
            collected.sparse[item.index] = sparse_vector(self.lm, recipe.sparse, last, item.text)
        collected.vectors[item.index] = vector
        collected.lengths[item.index] = item.text_tokens
        if item.truncated_from is not None:
            collected.truncated.add(item.index)


def _prefix_of(out: ForwardOutput, length: int) -> ForwardOutput:
    """The forward output of the input's first ``length`` positions (a shorter repetition)."""
    if next(iter(out.hidden.values())).shape[0] == length:
        return out
    return ForwardOutput(
        hidden={layer: h[:length] for layer, h in out.hidden.items()},
        column_positions=out.column_positions,
        column_max=None if out.column_max is None else out.column_max[:length],
        row_positions=out.row_positions,
        row_max=None if out.row_max is None else out.row_max[:, :length],
        routing=None if out.routing is None else out.routing[:length],
        values={part: v[:length] for part, v in out.values.items()},
    )


def _non_finite(item: PreparedInput, cfg: EmbeddingConfig) -> ItemFailure:
    reason = (
        f"the model produced NaN or inf ({cfg.label()}); with float16 try dtype='bfloat16' "
        "or 'float32'"
    )
    return ItemFailure(item.index, item.preview, reason, kind="non_finite")


def progress_bar(show_progress_bar: bool | None, **kwargs) -> tqdm:
    """A tqdm bar; ``None`` lets tqdm decide (hidden when stderr is not a terminal). Written to
    a log file, it updates every 30 s instead of every 0.1 s."""
    interactive = sys.stderr.isatty()
    return tqdm(
        disable=None if show_progress_bar is None else not show_progress_bar,
        mininterval=0.1 if interactive else 30,
        **kwargs,
    )
