"""One-time conversion of a GGUF file into a cached safetensors folder.

Loading a GGUF through transformers de-quantises every tensor (20-50 s and several GB);
a safetensors folder of the de-quantised weights loads in well under a second.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

_DONE_MARKER = "reba-converted.json"


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def converted_folder(gguf_path: Path, cache_dir: Path) -> Path:
    """The cached safetensors folder for ``gguf_path``, converting it on first use."""
    target = cache_dir / "converted" / f"{gguf_path.stem}-{_fingerprint(gguf_path)}"
    if (target / _DONE_MARKER).exists():
        return target
    logger.warning(
        "reba: converting %s to a safetensors cache once (this takes up to a minute and a few "
        "GB of memory; later loads take seconds) -> %s",
        gguf_path.name,
        target,
    )
    _convert(gguf_path, target)
    return target


def _convert(gguf_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The weights are de-quantised already; drop the GGUF quantiser so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # Stage under a per-process name so concurrent first loads cannot corrupt each other.
    staging = target.with_name(f"{target.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / _DONE_MARKER).write_text(f'{{"source": "{gguf_path}"}}\n')
    try:
        staging.rename(target)
    except OSError:  # another process finished first: keep its folder
        shutil.rmtree(staging, ignore_errors=True)
