"""One-time conversion of a GGUF file into a cached safetensors folder.

Loading a GGUF through transformers de-quantises every tensor (20-50 s and several GB);
a safetensors folder of the de-quantised weights loads in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from reba.errors import ModelIntegrityError

logger = logging.getLogger(__name__)

_DONE_MARKER = "reba-converted.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def converted_folder(
    gguf_path: Path, cache_dir: Path, sha256: str | None = None, reinstall: str = ""
) -> Path:
    """The cached safetensors folder for ``gguf_path``, converting it on first use.

    With ``sha256`` (a pinned digest) the folder is found without reading the GGUF, and the
    GGUF's digest is checked before the first conversion; a mismatch is refused, naming
    ``reinstall`` (the line that reinstalls the packages the file came from) as the fix.
    """
    digest = sha256 or sha256_of(gguf_path)
    target = cache_dir / "converted" / f"{gguf_path.stem}-{digest[:16]}"
    if (target / _DONE_MARKER).exists():
        return target
    if sha256 is not None:
        actual = sha256_of(gguf_path)
        if actual != sha256:
            again = f"; if the mismatch comes back, reinstall them with:  {reinstall}"
            raise ModelIntegrityError(
                f"refusing to convert {gguf_path}: its sha256 is {actual}, expected {sha256}. "
                "Delete the file (reba makes it again from the installed packages)"
                + (again if reinstall else "")
            )
    logger.warning(
        "reba: converting %s to a safetensors cache once (this takes up to a minute and a few "
        "GB of memory; later loads take seconds) -> %s",
        gguf_path.name,
        target,
    )
    _convert(gguf_path, target, digest)
    return target


def _convert(gguf_path: Path, target: Path, sha256: str) -> None:
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
    (staging / _DONE_MARKER).write_text(
        json.dumps({"source": str(gguf_path), "sha256": sha256}) + "\n"
    )
    try:
        staging.rename(target)
    except OSError:  # another process finished first: keep its folder
        shutil.rmtree(staging, ignore_errors=True)
