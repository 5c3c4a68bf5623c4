"""What a fitted state was fitted on, recorded at fit time and checked where it is applied.

``Embedder.fit`` records the model's identity (``reba.models.identity``), the embedding's
fingerprint (method, templates, read-out, layer, ... as the eval cache keys it) and the texts
(how many, their sha256). An embedder built with the state refuses it if the model or the
fingerprint differs: a whitening fitted on one model's vectors must not be applied to another
model's vectors of the same width. The dtype, device and length limit are not compared (they
move vectors by rounding, not in meaning). A state saved without these fields (fitted directly
with ``reba.postprocess``) is applied without the check.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from reba.postprocess.files import StateFileError
from reba.postprocess.state import PostState


def fit_source(lm, method, texts: Sequence[str]) -> dict[str, Any]:
    """``source`` for a state fitted on ``method``'s sentence vectors of ``texts`` on ``lm``."""
    from reba.models.identity import model_digest

    hasher = hashlib.sha256()
    for text in texts:
        hasher.update(text.encode("utf-8") + b"\0")
    return {
        "model": lm.name,
        "model_digest": model_digest(lm),
        "embedding": _plain(method.fingerprint()),
        "texts": len(texts),
        "texts_sha256": hasher.hexdigest(),
    }


def check_source(state: PostState, lm, method, where: str) -> None:
    """Refuse ``state`` (saved at ``where``) if it was fitted on another model or embedding."""
    from reba.models.identity import model_digest

    source = state.source
    if "model_digest" in source and source["model_digest"] != model_digest(lm):
        raise StateFileError(
            f"{where}: this {state.kind} post-processing was fitted on vectors of "
            f"{source.get('model')!r} ({source['model_digest'][:19]}), not of this model "
            f"{lm.name!r} ({model_digest(lm)[:19]}); fit it on this model"
        )
    if "embedding" in source and source["embedding"] != _plain(method.fingerprint()):
        fitted, here = source["embedding"], _plain(method.fingerprint())
        differ = sorted(k for k in set(fitted) | set(here) if fitted.get(k) != here.get(k))
        raise StateFileError(
            f"{where}: this {state.kind} post-processing was fitted on another embedding "
            f"(differs in {', '.join(differ)}: fitted {[fitted.get(k) for k in differ]}, here "
            f"{[here.get(k) for k in differ]}); fit it on this configuration"
        )


def _plain(value: Any) -> Any:
    """As it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))
