"""A fitted state on disk: a folder with ``state.json`` (metadata, digest, what wrote it) and
``state.safetensors`` (the float64 arrays). Loading recomputes the digest and refuses a folder
whose digest, or whose dimension, is not the one expected."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from reba.postprocess.state import ARRAYS, FORMAT, PostState

logger = logging.getLogger(__name__)

META_FILE = "state.json"
ARRAYS_FILE = "state.safetensors"


class StateFileError(ValueError):
    """A saved post-processing state is missing, damaged, changed, or not the one expected."""


def save_state(state: PostState, folder: str | Path) -> str:
    """Write ``state`` into ``folder`` (created if needed); returns its digest."""
    import reba

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digest = state.digest
    save_file(state.arrays(), str(folder / ARRAYS_FILE), metadata={"sha256": digest})
    meta = {**state.meta(), "sha256": digest, "written_by": f"reba {reba.__version__}"}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    logger.info("saved %s post-processing (%s) to %s", state.kind, digest[:12], folder)
    return digest


def load_state(folder: str | Path, dim: int | None = None, sha256: str | None = None) -> PostState:
    """Read a state saved by ``save_state``. ``dim``: the embedding dimension it must take
    (e.g. the model's); ``sha256``: the digest a configuration recorded for it."""
    folder = Path(folder)
    meta = _read_meta(folder)
    try:
        arrays = load_file(str(folder / ARRAYS_FILE))
    except (OSError, ValueError) as err:  # missing or not a safetensors file
        raise StateFileError(
            f"{folder / ARRAYS_FILE}: cannot read the state's arrays ({err})"
        ) from None
    if meta.get("format") != FORMAT:
        raise StateFileError(
            f"{folder}: state format {meta.get('format')!r}, this reba reads format {FORMAT}"
        )
    try:
        state = PostState(
            kind=meta["kind"],
            params=meta["params"],
            dim=int(meta["dim"]),
            fitted_on=int(meta["fitted_on"]),
            source=meta["source"],
            **{name: np.asarray(arrays[name]) for name in ARRAYS if name in arrays},
        )
    except KeyError as err:
        raise StateFileError(f"{folder / META_FILE}: missing field {err}") from None
    recorded = meta.get("sha256")
    if state.digest != recorded:
        raise StateFileError(
            f"{folder}: digest mismatch: {META_FILE} records {recorded}, the saved state hashes "
            f"to {state.digest}; the files were changed or mixed after saving; fit again"
        )
    if sha256 is not None and state.digest != sha256:
        raise StateFileError(
            f"{folder}: this is post-processing {state.digest[:12]} ({state.kind}), but the "
            f"configuration expects {sha256[:12]}"
        )
    if dim is not None and state.dim != dim:
        raise StateFileError(
            f"{folder}: {state.kind} post-processing was fitted on {state.dim}-dimensional "
            f"vectors; these embeddings have {dim} dimensions (another model or read-out?)"
        )
    return state


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise StateFileError(f"{path}: no saved post-processing state here") from None
    except (OSError, ValueError) as err:
        raise StateFileError(f"{path}: unreadable ({err})") from None
    if not isinstance(meta, dict):
        raise StateFileError(f"{path}: expected a JSON object")
    return meta
