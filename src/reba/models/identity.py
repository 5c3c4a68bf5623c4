"""What a model is, as a digest: the files it was loaded from, or its weights in memory.

A model loaded from disk (a bundled alias, a folder, a converted ``.gguf``, a hub snapshot) is
identified by a sha256 over its weight, configuration and tokenizer files, names included.
Hashing a gigabyte takes seconds, so each file's digest is cached (``<reba cache>/digests``)
under its resolved path, size and modification time: later loads cost a ``stat`` per file. A
model wrapped in memory (``wrap_model``) is identified by its state dict (names, dtypes,
shapes, bytes) and its tokenizer's vocabulary, computed once per ``LoadedModel``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

# Files of a model folder that change its vectors (weights, configuration, tokenizer).
_MODEL_FILES = (".safetensors", ".bin", ".gguf", ".json", ".model", ".txt", ".tiktoken")
_NOT_MODEL = ("reba-converted.json",)  # names a machine's path; the folder's name has the digest
_BLOCK = 1 << 22


def model_digest(lm) -> str:
    """``sha256:<hex>`` of ``lm``'s files (when loaded from a folder) or of its weights."""
    cached = getattr(lm, "_digest", None)
    if cached is None:
        folder = getattr(lm, "source", None)
        files = _model_files(Path(folder)) if folder else []
        cached = _files_digest(files) if files else _memory_digest(lm)
        object.__setattr__(lm, "_digest", cached)
    return cached


def _model_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix in _MODEL_FILES and p.name not in _NOT_MODEL
    )


def _files_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}\0{file_digest(path)}\n".encode())
    return "sha256:" + digest.hexdigest()


def file_digest(path: Path) -> str:
    """sha256 of one file, cached by (resolved path, size, mtime)."""
    from reba.models.loading import cache_dir

    path = path.resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    store = cache_dir() / "digests" / f"{key}.json"
    try:
        return json.loads(store.read_text())["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    value = digest.hexdigest()
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": str(path), "sha256": value}))
        os.replace(tmp, store)
    except OSError as err:  # a read-only cache: the digest is recomputed next time
        logger.debug("reba: could not cache the digest of %s: %s", path, err)
    return value


def _memory_digest(lm) -> str:
    import torch

    digest = hashlib.sha256()
    for name, tensor in lm.model.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    vocab = getattr(lm.tokenizer, "get_vocab", dict)()
    digest.update(json.dumps(sorted(vocab.items()), ensure_ascii=False).encode())
    return "sha256:" + digest.hexdigest()
