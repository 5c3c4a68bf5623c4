"""Batched forward passes that keep, per input, the hidden states and reduced attention its
read-outs need, with Token Prepending, Contrastive Prompting or KV re-routing applied when
asked.

Inputs are right-padded (a real token never sees the padding after it, so results do not
depend on batch size or neighbours) or, with ``packing``, placed back to back in shared rows
whose position ids restart per input (``reba.engine.packing``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from functools import partial

import torch

from reba.attention import (
    BackwardAttention,
    attention_implementation,
    backward_attention_path,
    recording,
)
from reba.engine import forward_hooks as hooks
from reba.engine.batching import batches, row_bytes
from reba.engine.forward_kv import kv_rerouting
from reba.engine.packing import packed_positions, packing_works
from reba.engine.routers import router_logits
from reba.engine.values import capturing
from reba.inputs import PreparedInput
from reba.methods import (
    ContrastivePrompting,
    ForwardOutput,
    HierarchicalTokenPrepending,
    KVRerouting,
    TokenPrepending,
)
from reba.models import LoadedModel


@dataclass
class Request:
    """One model input and what its forward pass must keep for it."""

    input: PreparedInput
    columns: list[int] = field(default_factory=list)  # key positions of kept attention columns
    rows: list[int] = field(default_factory=list)  # query positions of kept attention rows
    auxiliary: PreparedInput | None = None  # Contrastive Prompting's auxiliary prompt


@dataclass(frozen=True)
class ForwardPlan:
    """What every forward of one group keeps and changes."""

    layers: tuple[int, ...]  # hidden layers to keep
    attention: bool  # record backward attention
    intervention: (
        TokenPrepending | ContrastivePrompting | HierarchicalTokenPrepending | KVRerouting | None
    ) = None
    routers: bool = False  # keep every MoE layer's router logits (MoEE)
    values: tuple = ()  # VA / AlignedWVA parts to capture (reba.engine.values)

    @property
    def reba_attention(self) -> bool:
        """Whether the pass runs through reba's attention functions (for backward attention,
        or for KV re-routing, which lives in them)."""
        return self.attention or isinstance(self.intervention, KVRerouting)


@torch.inference_mode()
def run_forward(
    lm: LoadedModel,
    requests: Sequence[Request],
    plan: ForwardPlan,
    batch_size: int,
    packing: bool = False,
) -> Iterator[tuple[Request, ForwardOutput]]:
    """Yield each request with its forward output, batch by batch."""
    path = backward_attention_path(lm.model) if plan.reba_attention else None
    if packing:  # causal models only: transformers derives packed masks for causal attention
        probe = partial(_attention_context, lm, path, BackwardAttention(None, None))
        packing = lm.causal and packing_works(lm.model, path or "sdpa", probe)
    by_input = {id(r.input): r for r in requests}
    cost = partial(_row_cost, lm, plan, path, by_input)
    for rows in batches([r.input for r in requests], batch_size, cost, packing):
        batch = [[by_input[id(p)] for p in row] for row in rows]
        results = list(_forward_batch(lm, batch, plan, path))
        spoiled = _packed_with_non_finite(batch, results)
        yield from ((r, out) for r, out in results if id(r) not in spoiled)
        if spoiled:  # NaN or inf spreads through a packed row: redo its inputs alone
            redo = [r.input for row in batch for r in row if id(r) in spoiled]
            for again in batches(redo, batch_size, cost, packing=False):
                yield from _forward_batch(
                    lm, [[by_input[id(p)] for p in row] for row in again], plan, path
                )


def _row_cost(lm, plan: ForwardPlan, path, by_input, row: list[PreparedInput], width: int) -> int:
    columns = sum(len(by_input[id(p)].columns) for p in row)
    hidden_layers = 1 if plan.layers == (-1,) else lm.num_layers + 1
    return row_bytes(lm.model.config, width, columns, path or "none", hidden_layers)


def _packed_with_non_finite(batch, results) -> set[int]:
    """``id`` of every request whose output is not finite, and of its row-mates, in a packed
    batch (where even a lone input's padding tail is a sequence of its own): they are redone
    padded, so a bad input fails alone, as it would without packing."""
    if all(len(row) == 1 for row in batch):
        return set()
    bad = {id(r) for r, out in results if not _finite(out)}
    return {id(r) for row in batch if any(id(r) in bad for r in row) for r in row}


def _finite(out: ForwardOutput) -> bool:
    tensors = [*out.hidden.values(), *out.values.values(), out.column_max, out.row_max]
    return all(bool(torch.isfinite(t).all()) for t in tensors if t is not None)


def _attention_context(lm: LoadedModel, path, recorder: BackwardAttention):
    if path is not None:
        return recording(lm.model, recorder, path)
    if lm.causal:
        return attention_implementation(lm.model, "sdpa")
    return nullcontext()


@dataclass
class _Placed:
    """Where one request sits in a batch: row ``b``, from position ``offset``."""

    request: Request
    b: int
    offset: int

    @property
    def span(self) -> slice:
        return slice(self.offset, self.offset + self.request.input.length)


@dataclass
class _Batch:
    """Rows of requests laid out as model inputs."""

    ids: torch.Tensor
    run: dict  # keyword arguments of the model call, but the inputs
    placed: list[_Placed]  # every request, in row order


def _assemble(lm: LoadedModel, batch: list[list[Request]]) -> _Batch:
    """Token ids of rows of requests (padded, or packed back to back) and how to run them."""
    width = max(sum(r.input.length for r in row) for row in batch)
    ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    placed = []
    for b, row in enumerate(batch):
        offset = 0
        for request in row:
            n = request.input.length
            ids[b, offset : offset + n] = torch.tensor(request.input.ids)
            mask[b, offset : offset + n] = 1
            placed.append(_Placed(request, b, offset))
            offset += n
    run: dict = {"use_cache": False}
    if any(len(row) > 1 for row in batch):  # transformers then masks block-diagonally
        positions = [packed_positions([r.input.length for r in row], width) for row in batch]
        run.update(attention_mask=None, position_ids=torch.stack(positions).to(lm.device))
    else:
        run.update(attention_mask=mask.to(lm.device))
    return _Batch(ids.to(lm.device), run, placed)


def _forward_batch(lm, batch: list[list[Request]], plan: ForwardPlan, path):
    """One forward over ``batch`` (rows of requests), split back into per-request outputs."""
    assembled = _assemble(lm, batch)
    placed = assembled.placed
    columns, column_starts = _gather_per_row(placed, [p.request.columns for p in placed])
    rows, row_starts = _gather_per_row(placed, [p.request.rows for p in placed])
    device = lm.device
    recorder = BackwardAttention(
        _pad(columns).to(device) if plan.attention and any(columns) else None,
        _pad(rows).to(device) if plan.attention and any(rows) else None,
        length=assembled.ids.shape[1],
    )
    run = {**assembled.run, "output_hidden_states": plan.layers != (-1,)}
    if plan.routers:
        run["output_router_logits"] = True
    with ExitStack() as stack:
        inputs = _inputs(lm, assembled, plan, batch, stack)  # CP's auxiliary pass runs here
        sums = stack.enter_context(capturing(lm.model, plan.values))
        stack.enter_context(_attention_context(lm, path, recorder))
        out = lm.model(**inputs, **run)
    values = {part: total.mean() for part, total in sums.items()}
    if path is not None and recorder.layers == 0:
        raise NotImplementedError(
            f"{type(lm.model).__name__} does not compute attention through transformers' "
            "attention interface, so ReBA read-outs cannot see its attention probabilities "
            "and KV re-routing (kv) cannot change it"
        )
    routing = router_logits(lm, out, *assembled.ids.shape) if plan.routers else None
    for at, col0, row0 in zip(placed, column_starts, row_starts):
        output = _output_of(at, out, plan.layers, recorder, col0, row0)
        if routing is not None:
            output.routing = routing[at.b, at.span].cpu()
        output.values = {part: v[at.b, at.span].cpu() for part, v in values.items()}
        yield at.request, output


def _inputs(lm, assembled: _Batch, plan: ForwardPlan, batch, stack) -> dict:
    """The model's input arguments, with the plan's intervention installed on ``stack``."""
    intervention = plan.intervention
    lasts = _positions(lm, [(at, at.request.input.last) for at in assembled.placed])
    if isinstance(intervention, TokenPrepending):
        holders = _positions(lm, [(at, at.request.input.placeholder) for at in assembled.placed])
        embeds = hooks.token_prepending_embeddings(lm.model, assembled.ids, intervention, holders)
        stack.enter_context(hooks.token_prepending(lm.model, intervention, holders, lasts))
        return {"inputs_embeds": embeds}
    if isinstance(intervention, HierarchicalTokenPrepending):
        return _htp_inputs(lm, assembled, intervention, stack)
    if isinstance(intervention, ContrastivePrompting):
        reference = _auxiliary_reference(lm, batch, intervention)
        stack.enter_context(hooks.contrastive_prompting(lm.model, intervention, lasts, reference))
    if isinstance(intervention, KVRerouting):
        slots = [(at.b, at.span, at.offset + at.request.input.last) for at in assembled.placed]
        shape = tuple(assembled.ids.shape)
        stack.enter_context(kv_rerouting(lm.model, intervention, slots, shape, lm.device))
    return {"input_ids": assembled.ids}


def _htp_inputs(lm, assembled: _Batch, htp: HierarchicalTokenPrepending, stack) -> dict:
    """HTP: ``<PST>`` and ``<B-PST>`` rows in the input embeddings, and the copy of each
    sentence's last state into its markers before the layers ``htp.start <= i < htp.end``."""
    rows = {"sentence": [], "begin": []}
    targets, sources = [], []
    for at in assembled.placed:
        item = at.request.input
        rows["sentence"] += [(at, p) for p in item.sentence_markers]
        rows["begin"] += [(at, p) for p in item.begin_markers]
        for markers in (item.sentence_markers, item.begin_markers):
            targets += [(at, p) for p in markers]
            sources += [(at, s) for s in item.sentence_sources[: len(markers)]]
    seeds = {"sentence": htp.seed, "begin": htp.seed + 1} if htp.init == "normal" else {}
    embeds = lm.model.get_input_embeddings()(assembled.ids)
    for kind, pairs in rows.items():
        if pairs:
            hooks.put_rows(lm.model, embeds, _positions(lm, pairs), seeds.get(kind))
    copies = (_positions(lm, targets), _positions(lm, sources))
    stack.enter_context(hooks.token_prepending(lm.model, htp, *copies))
    return {"inputs_embeds": embeds}


def _auxiliary_reference(lm, batch: list[list[Request]], cp: ContrastivePrompting):
    """CP's ``b`` for each request, from its auxiliary prompt laid out like the main batch
    (same rows, packed or padded), run up to layer ``cp.layer`` only."""
    auxiliary = _assemble(lm, [[Request(r.auxiliary) for r in row] for row in batch])
    lasts = _positions(lm, [(at, at.request.input.last) for at in auxiliary.placed])

    def run():
        with attention_implementation(lm.model, "sdpa") if lm.causal else nullcontext():
            lm.model(input_ids=auxiliary.ids, **auxiliary.run)

    return hooks.contrastive_reference(lm.model, cp, run, lasts)


def _positions(lm, pairs: list[tuple[_Placed, int]]) -> hooks.Positions:
    rows = torch.tensor([at.b for at, _ in pairs], device=lm.device)
    at = torch.tensor([at.offset + position for at, position in pairs], device=lm.device)
    return hooks.Positions(rows, at)


def _output_of(at: _Placed, out, layers, recorder: BackwardAttention, col0: int, row0: int):
    span = at.span
    hidden = {  # pooled on the CPU, in float64 (methods.readouts.pool)
        layer: (out.last_hidden_state if layer == -1 else out.hidden_states[layer])[
            at.b, span
        ].cpu()
        for layer in layers
    }
    request = at.request
    column_max = row_max = None
    if recorder.column_max is not None:
        column_max = recorder.column_max[at.b, span, col0 : col0 + len(request.columns)].cpu()
    if recorder.row_max is not None:
        row_max = recorder.row_max[at.b, row0 : row0 + len(request.rows), span].cpu()
    return ForwardOutput(
        hidden=hidden,
        column_positions=tuple(request.columns),
        column_max=column_max,
        row_positions=tuple(request.rows),
        row_max=row_max,
    )


def _gather_per_row(
    placed: list[_Placed], positions: list[list[int]]
) -> tuple[list[list[int]], list[int]]:
    """Each input's ``positions`` shifted to where it sits and concatenated per row, and where
    each input's run starts in its row's list."""
    per_row: list[list[int]] = [[] for _ in range(1 + max(at.b for at in placed))]
    starts = []
    for at, own in zip(placed, positions):
        starts.append(len(per_row[at.b]))
        per_row[at.b] += [at.offset + q for q in own]
    return per_row, starts


def _pad(positions: list[list[int]]) -> torch.Tensor:
    """Per-row position lists as one (B, width) tensor, padded with position 0."""
    width = max(len(p) for p in positions)
    return torch.tensor([p + [0] * (width - len(p)) for p in positions], dtype=torch.long)
