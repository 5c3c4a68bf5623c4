"""Batched forward passes and pooling for one or many embedding configurations at once.

Inputs are sorted by length and right-padded: with causal attention a real token never sees
the padding after it, so results do not depend on batch size or neighbours. With ``packing``,
short inputs are placed back to back in shared rows instead (``reba.packing``). Configurations
that need the same model input (same number of copies, same template) share one forward pass.
"""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from reba.attention import BackwardAttention, attention_implementation, recording
from reba.errors import ItemFailure
from reba.inputs import PreparedInput, Template, prepare, tokenize_texts, tokenize_words
from reba.methods import EmbeddingConfig, ForwardOutput, Level, Method, check_config, embed_one
from reba.models import LoadedModel
from reba.packing import pack_rows, packed_positions, packing_works

logger = logging.getLogger(__name__)

# Eager attention materialises (batch, heads, N, N) probabilities for one layer at a time;
# batches of long inputs are split so that stays under this many bytes.
ATTENTION_BUDGET_BYTES = 1 << 30
# What one more forward pass costs, in padded tokens: Python and per-layer kernel overhead.
# ~20-30 on a 2-core CPU (gemma-3-270m, batch 1 against batch 16 in benchmarks/RESULTS.md).
# Batches are cut where padding would cost more.
FORWARD_OVERHEAD_TOKENS = 24


@dataclass
class EmbedResult:
    """Embeddings of the items that succeeded, in input order, and what happened to the rest."""

    embeddings: np.ndarray  # (n_ok, d) float32
    indices: np.ndarray  # (n_ok,) the input positions of the rows
    failures: list[ItemFailure] = field(default_factory=list)
    truncated: list[int] = field(default_factory=list)  # input positions that were cut
    token_counts: np.ndarray | None = None  # (n_ok,) text tokens (one copy) per row


@dataclass
class _Collected:
    """What one configuration has gathered so far."""

    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    failures: list[ItemFailure] = field(default_factory=list)
    truncated: set[int] = field(default_factory=set)
    lengths: dict[int, int] = field(default_factory=dict)

    def result(self, failures: list[ItemFailure], dimension: int) -> EmbedResult:
        order = sorted(self.vectors)
        matrix = np.stack([self.vectors[i] for i in order]) if order else np.zeros((0, dimension))
        return EmbedResult(
            embeddings=matrix.astype(np.float32, copy=False),
            indices=np.asarray(order, dtype=np.int64),
            failures=sorted(failures + self.failures, key=lambda f: f.index),
            truncated=sorted(self.truncated & set(order)),
            token_counts=np.asarray([self.lengths[i] for i in order], dtype=np.int64),
        )


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
) -> dict[EmbeddingConfig, EmbedResult]:
    """Embed ``items`` (texts, or ``(text, word|span)`` pairs) with every config in ``configs``.

    ``packing`` puts several short inputs in one row (see ``reba.packing``): faster for inputs
    in no particular order, such as a server's micro-batches; the same results to float32
    rounding.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    checked = [(cfg, check_config(cfg, level)) for cfg in configs]
    for cfg, _ in checked:
        check_model_supports(lm, cfg)
    tokenize = tokenize_texts if level == "sentence" else tokenize_words
    tokenized, failures = tokenize(lm.tokenizer, items)
    by_template: dict[str | None, list] = defaultdict(list)
    for cfg, method in checked:
        by_template[method.template].append((cfg, method))
    collected = {cfg: _Collected() for cfg in configs}
    run = _Run(lm, batch_size, max_length or lm.max_length, collected, packing)
    with progress_bar(
        show_progress_bar, total=len(tokenized) * len(by_template), desc="embedding", unit="input"
    ) as progress:
        for template, group in by_template.items():
            run.embed(tokenized, group, template, progress)
    return {cfg: collected[cfg].result(failures, lm.dimension) for cfg in configs}


def _copies(cfg: EmbeddingConfig, method: Method) -> int:
    return cfg.k if method.repeats else 1


@dataclass
class _Run:
    lm: LoadedModel
    batch_size: int
    max_length: int
    collected: dict[EmbeddingConfig, _Collected]
    packing: bool = False

    def embed(self, tokenized, configs, template, progress=None) -> None:
        """Embed with every config of one template from a single forward at the largest k.

        With causal attention the first ``p + k*n`` positions of a K-copy input are exactly the
        k-copy input (same tokens, and no position sees later ones), so every k <= K is pooled
        from a prefix of the K-copy forward. Items cut or rejected at K (truncation depends on
        k) are redone at each k on their own.
        """
        largest = max(_copies(cfg, m) for cfg, m in configs)
        uniform = all(_copies(cfg, m) == largest for cfg, m in configs)
        prepared, failures = prepare(
            tokenized,
            prefix=self.lm.prefix_ids,
            copies=largest,
            max_length=self.max_length,
            template=_template_ids(self.lm, template),
            suffix=() if self.lm.causal else self.lm.suffix_ids,
            report=uniform,  # otherwise cut items are redone per k, which reports its own cuts
        )
        if uniform:
            for cfg, _ in configs:
                self.collected[cfg].failures += failures
        else:
            redo = {f.index for f in failures} | {p.index for p in prepared if p.truncated_from}
            prepared = [p for p in prepared if p.index not in redo]
            for k in sorted({_copies(cfg, m) for cfg, m in configs}):
                same_k = [(cfg, m) for cfg, m in configs if _copies(cfg, m) == k]
                self.embed([t for t in tokenized if t.index in redo], same_k, template)
        for item, out in run_forward(self.lm, prepared, configs, self.batch_size, self.packing):
            for cfg, method in configs:
                self._pool(*prefix_view(item, out, _copies(cfg, method)), cfg, method)
            if progress is not None:
                progress.update(1)

    def _pool(self, item: PreparedInput, out: ForwardOutput, cfg, method) -> None:
        vector = embed_one(item, out, cfg, method).numpy()
        collected = self.collected[cfg]
        if not np.isfinite(vector).all():
            failure = _non_finite(item, cfg)
            logger.error("reba: %s", failure)
            collected.failures.append(failure)
            return
        collected.vectors[item.index] = vector
        collected.lengths[item.index] = item.text_len
        if item.truncated_from is not None:
            collected.truncated.add(item.index)


def prefix_view(
    item: PreparedInput, out: ForwardOutput, copies: int
) -> tuple[PreparedInput, ForwardOutput]:
    """The ``copies``-copy input and its forward output, read off a longer repetition."""
    if copies == item.copies:
        return item, out
    end = item.text_start + copies * item.text_len
    return (
        replace(item, ids=item.ids[:end], copies=copies),
        ForwardOutput(
            hidden={layer: h[:end] for layer, h in out.hidden.items()},
            column_positions=out.column_positions,
            column_max=None if out.column_max is None else out.column_max[:end],
            row_positions=out.row_positions,
            row_max=None if out.row_max is None else out.row_max[:, :end],
        ),
    )


def _non_finite(item: PreparedInput, cfg: EmbeddingConfig) -> ItemFailure:
    reason = (
        f"the model produced NaN or inf ({cfg.label()}); with float16 try dtype='bfloat16' "
        "or 'float32'"
    )
    return ItemFailure(item.index, item.preview, reason, kind="non_finite")


# --- forward passes -------------------------------------------------------------------------


@torch.inference_mode()
def run_forward(
    lm: LoadedModel,
    prepared: Sequence[PreparedInput],
    configs: Sequence[tuple[EmbeddingConfig, Method]],
    batch_size: int,
    packing: bool = False,
) -> Iterator[tuple[PreparedInput, ForwardOutput]]:
    """Yield each input with the hidden states and reduced attention its configs need."""
    layers = sorted({cfg.layer for cfg, _ in configs})
    for layer in layers:
        if not -lm.num_layers - 1 <= layer <= lm.num_layers:
            raise ValueError(
                f"layer {layer} is out of range: this model returns layers "
                f"0..{lm.num_layers} (or -{lm.num_layers + 1}..-1)"
            )
    needs = {method.attention for _, method in configs}
    eager = needs != {"none"}
    if packing:  # causal models only: transformers derives packed masks for causal attention
        probe_context = partial(_attention_context, lm, needs, BackwardAttention(None, None))
        mode = "recording" if eager else "sdpa"
        packing = lm.causal and packing_works(lm.model, mode, probe_context)
    for rows in _batches(lm, prepared, batch_size, eager, packing):
        results = list(_forward_batch(lm, rows, configs, layers, needs))
        spoiled = _packed_with_non_finite(rows, results)
        yield from ((item, out) for item, out in results if id(item) not in spoiled)
        if spoiled:  # NaN or inf spreads through a packed row: redo its inputs alone
            redo = [p for row in rows for p in row if id(p) in spoiled]
            for batch in _batches(lm, redo, batch_size, eager, packing=False):
                yield from _forward_batch(lm, batch, configs, layers, needs)


def _packed_with_non_finite(rows, results) -> set[int]:
    """``id`` of every input whose output is not finite, and of its row-mates, in a packed
    batch (where even a lone input's padding tail is a sequence of its own): they are redone
    padded, so a bad input fails alone, as it would without packing."""
    if all(len(row) == 1 for row in rows):
        return set()
    bad = {id(item) for item, out in results if not _finite(out)}
    return {id(p) for row in rows if any(id(p) in bad for p in row) for p in row}


def _finite(out: ForwardOutput) -> bool:
    tensors = [*out.hidden.values(), out.column_max, out.row_max]
    return all(bool(torch.isfinite(t).all()) for t in tensors if t is not None)


def _attention_context(lm: LoadedModel, needs: set[str], recorder: BackwardAttention):
    if needs != {"none"}:
        return recording(lm.model, recorder)
    if lm.causal:
        return attention_implementation(lm.model, "sdpa")
    return nullcontext()


@dataclass
class _Placed:
    """Where one input sits in a batch: row ``b``, from position ``offset``."""

    item: PreparedInput
    b: int
    offset: int


def _forward_batch(lm, rows, configs, layers, needs):
    """One forward over ``rows`` (lists of inputs: one each, or several packed back to back)."""
    device = lm.device
    width = max(sum(p.length for p in row) for row in rows)
    packed = any(len(row) > 1 for row in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    placed: list[_Placed] = []
    for b, row in enumerate(rows):
        offset = 0
        for p in row:
            ids[b, offset : offset + p.length] = torch.tensor(p.ids)
            mask[b, offset : offset + p.length] = 1
            placed.append(_Placed(p, b, offset))
            offset += p.length
    columns = [_columns_of(at.item, configs) for at in placed]
    last_rows = [_last_rows_of(at.item, configs) for at in placed]
    row_columns, column_starts = _gather_per_row(placed, columns, len(rows))
    row_last_rows, last_row_starts = _gather_per_row(placed, last_rows, len(rows))
    recorder = BackwardAttention(
        _pad(row_columns).to(device) if "columns" in needs else None,
        _pad(row_last_rows).to(device) if "last_row" in needs else None,
    )
    run = {
        "input_ids": ids.to(device),
        "use_cache": False,
        "output_hidden_states": layers != [-1],
    }
    if packed:  # transformers then masks block-diagonally (see reba.packing)
        positions = [packed_positions([p.length for p in row], width) for row in rows]
        run.update(attention_mask=None, position_ids=torch.stack(positions).to(device))
    else:
        run.update(attention_mask=mask.to(device))
    with _attention_context(lm, needs, recorder):
        out = lm.model(**run)
    for at, cols, col0, ends, row0 in zip(
        placed, columns, column_starts, last_rows, last_row_starts
    ):
        span = slice(at.offset, at.offset + at.item.length)
        hidden = {  # pooled on the CPU, in float64 (methods.embed_one)
            layer: (out.last_hidden_state if layer == -1 else out.hidden_states[layer])[
                at.b, span
            ].cpu()
            for layer in layers
        }
        column_max = row_max = None
        if recorder.column_max is not None:
            column_max = recorder.column_max[at.b, span, col0 : col0 + len(cols)].cpu()
        if recorder.row_max is not None:
            row_max = recorder.row_max[at.b, row0 : row0 + len(ends), span].cpu()
        yield (
            at.item,
            ForwardOutput(
                hidden=hidden,
                column_positions=tuple(cols),
                column_max=column_max,
                row_positions=tuple(ends),
                row_max=row_max,
            ),
        )


def _gather_per_row(
    placed: list[_Placed], positions: list[list[int]], n_rows: int
) -> tuple[list[list[int]], list[int]]:
    """Each input's ``positions`` shifted to where it sits and concatenated per row, and where
    each input's run starts in its row's list."""
    per_row: list[list[int]] = [[] for _ in range(n_rows)]
    starts = []
    for at, own in zip(placed, positions):
        starts.append(len(per_row[at.b]))
        per_row[at.b] += [at.offset + q for q in own]
    return per_row, starts


def _columns_of(item: PreparedInput, configs) -> list[int]:
    """Every key position whose attention column some config of this forward needs."""
    rows: set[int] = set()
    for cfg, method in configs:
        if method.rows is not None:
            rows.update(method.rows(item, cfg))
    return sorted(rows)


def _last_rows_of(item: PreparedInput, configs) -> list[int]:
    """The last position of every k-copy prefix whose last attention row some config needs."""
    ends = {
        item.text_start + _copies(cfg, method) * item.text_len - 1
        for cfg, method in configs
        if method.attention == "last_row"
    }
    return sorted(ends)


def _pad(positions: list[list[int]]) -> torch.Tensor:
    """Per-row position lists as one (B, width) tensor, padded with position 0."""
    width = max(len(p) for p in positions)
    return torch.tensor([p + [0] * (width - len(p)) for p in positions], dtype=torch.long)


def _batches(
    lm, prepared, batch_size, eager, packing: bool = False
) -> Iterator[list[list[PreparedInput]]]:
    """Rows (one input each, or several packed) longest first (a memory problem shows at
    once), cut where padding costs more than a forward pass, and split to fit the attention
    budget."""
    if packing:
        rows = [[prepared[i] for i in row] for row in pack_rows([p.length for p in prepared])]
    else:
        rows = [[p] for p in prepared]
    lengths = [sum(p.length for p in row) for row in rows]
    order = sorted(range(len(rows)), key=lambda r: lengths[r], reverse=True)
    heads = int(getattr(lm.model.config, "num_attention_heads", 1))
    limits = [batch_size] * len(order)
    if eager:
        for i, r in enumerate(order):
            per_row = 3 * heads * lengths[r] ** 2 * 4  # scores, probs, temporaries
            limits[i] = max(1, min(batch_size, ATTENTION_BUDGET_BYTES // per_row))
    for start, stop in plan_batches([lengths[r] for r in order], limits):
        yield [rows[r] for r in order[start:stop]]


def plan_batches(
    lengths: Sequence[int], limits: Sequence[int], overhead: int = FORWARD_OVERHEAD_TOKENS
) -> list[tuple[int, int]]:
    """Cut ``lengths`` (sorted longest first) into contiguous batches ``[start, stop)``.

    A batch costs ``overhead`` plus its padded tokens (size x longest); the plan minimises the
    total, with at most ``limits[start]`` items in a batch starting at ``start``. Without the
    cuts, a batch of 16 random short sentences is about half padding. Dynamic programming over
    cut points: O(len x max(limits)).
    """
    n = len(lengths)
    best = [0.0] + [float("inf")] * n  # best[j]: cheapest plan for the first j inputs
    cut = [0] * (n + 1)
    widest = max(limits, default=1)
    for j in range(1, n + 1):
        for i in range(max(0, j - widest), j):
            if j - i <= limits[i]:
                cost = best[i] + overhead + (j - i) * lengths[i]
                if cost <= best[j]:  # ties: later cut, so earlier batches are full
                    best[j], cut[j] = cost, i
    plan = []
    while n:
        plan.append((cut[n], n))
        n = cut[n]
    return plan[::-1]


# --- helpers --------------------------------------------------------------------------------


def _template_ids(lm: LoadedModel, template: str | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if template is None:
        return (), ()
    parts = Template.parse(template)
    return _token_ids(lm, parts.before), _token_ids(lm, parts.after)


def _token_ids(lm: LoadedModel, text: str) -> tuple[int, ...]:
    return tuple(lm.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else ()


def check_model_supports(lm: LoadedModel, cfg: EmbeddingConfig) -> None:
    if not lm.causal and (cfg.method != "mean" or cfg.k != 1):
        raise ValueError(
            f"{lm.name} is a bidirectional encoder: only method 'mean' applies "
            f"(repetition and backward attention are for causal language models), got {cfg.label()}"
        )


def progress_bar(show_progress_bar: bool | None, **kwargs) -> tqdm:
    """A tqdm bar; ``None`` lets tqdm decide (hidden when stderr is not a terminal). Written to
    a log file, it updates every 30 s instead of every 0.1 s."""
    interactive = sys.stderr.isatty()
    return tqdm(
        disable=None if show_progress_bar is None else not show_progress_bar,
        mininterval=0.1 if interactive else 30,
        **kwargs,
    )
