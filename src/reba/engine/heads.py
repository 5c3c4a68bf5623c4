"""The read-outs through the LM head, per model: EmbedFilter's projection and PromptReps'
sparse vector (the parts are ``reba.methods.heads``; the head is
``reba.models.loading.unembedding``).

EmbedFilter's right singular vectors are computed once per model (float64, from the Gram
matrix of the head) and kept in memory for as long as the model lives; the head itself is
then let go (unless PromptReps keeps it).
"""

from __future__ import annotations

import logging
import re
import time
import weakref

import numpy as np
import torch

from reba.inputs.stopwords import STOPWORDS
from reba.methods.heads import EmbedFilter, SparseLogits
from reba.models import LoadedModel, unembedding
from reba.postprocess.embedfilter import projection_state as _state
from reba.postprocess.embedfilter import right_singular_vectors, selected_rows
from reba.postprocess.state import PostState

logger = logging.getLogger(__name__)

_WORD = re.compile(r"\w+")
_right_vectors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> Vh
_states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: PostState}


def projection_of(lm: LoadedModel, part: EmbedFilter) -> PostState:
    """EmbedFilter's projection on ``lm`` as a post-processing state (its ``digest`` names it)."""
    keep = part.kept(lm.dimension)
    rows = selected_rows(lm.dimension, keep, part.selection, part.start)
    states = _states.setdefault(lm.model, {})
    key = (rows.start, rows.stop, part.selection, part.start)
    if key not in states:
        # all directions: the identity (the authors' rule), no decomposition needed
        projection = np.eye(keep) if keep == lm.dimension else _vh(lm)[rows.start : rows.stop]
        states[key] = _state(projection, part.selection, part.start, {"model": lm.name})
    return states[key]


def _vh(lm: LoadedModel) -> np.ndarray:
    if lm.model not in _right_vectors:
        started = time.perf_counter()
        _, vh = right_singular_vectors(unembedding(lm))
        _right_vectors[lm.model] = vh
        logger.info(
            "embedfilter: singular directions of %s's head in %.1f s",
            lm.name,
            time.perf_counter() - started,
        )
    return _right_vectors[lm.model]


def sparse_vector(
    lm: LoadedModel, part: SparseLogits, last: torch.Tensor, text: str
) -> dict[int, float]:
    """PromptReps' sparse vector of ``text`` from the final hidden state ``last`` (d,) at the
    last position: ``{token id: log(1 + relu(logit))}`` over the ids of the text's words (each
    lower-cased word minus stopwords, encoded without special tokens and without a leading
    space, as the authors), the ``top`` largest, zeros dropped; no word: the ``fallback``
    largest over the vocabulary. Logits in float64 (soft-capped where the model's
    configuration says so)."""
    head = unembedding(lm, keep=True)
    h = last.to(head.device)
    ids = word_ids(lm.tokenizer, text, part.stopwords)
    if not ids:
        full = head @ h.to(head.dtype)
        ids = full.float().topk(min(part.fallback, full.shape[0])).indices.tolist()
    candidates = torch.tensor(sorted(ids), device=head.device)
    logits = head[candidates].double() @ h.double()
    cap = getattr(lm.model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    values = torch.log1p(torch.relu(logits)).cpu().numpy()
    order = np.argsort(-values, kind="stable")[: part.top]
    chosen = candidates.cpu().numpy()
    return {int(chosen[i]): float(values[i]) for i in order if values[i] > 0}


def word_ids(tokenizer, text: str, stopwords: str) -> set[int]:
    """Token ids of the text's words: ``\\w+`` runs of the lower-cased text, stopwords removed,
    each encoded alone without special tokens."""
    stop = STOPWORDS[stopwords]
    words = {w for w in _WORD.findall(text.lower()) if w not in stop}
    ids: set[int] = set()
    for word in sorted(words):
        ids.update(tokenizer(word, add_special_tokens=False)["input_ids"])
    return ids
