"""The files of an exported sentence-transformers folder besides reba_config.json."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

MODULE_SOURCE = '''"""sentence-transformers module of a reba embedder (the installed `reba` works).

Loaded by SentenceTransformer(<this folder>, trust_remote_code=True); the configuration is in
reba_config.json. Needs `pip install reba` (and `reba[st]`).
"""

from reba.integrations.sentence_transformers import RebaModule as _RebaModule


class RebaModule(_RebaModule):
    """Builds a reba.Embedder from reba_config.json; see reba.integrations.sentence_transformers."""
'''


def st_config(prompts: dict, default_prompt_name: str | None, similarity: str) -> dict:
    import sentence_transformers
    import transformers

    return {
        "__version__": {
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "pytorch": torch.__version__,
        },
        "model_type": "SentenceTransformer",
        "prompts": prompts,
        "default_prompt_name": default_prompt_name,
        "similarity_fn_name": similarity,
    }


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def model_card(module: Any, prompts: dict, similarity: str) -> str:
    config = module.get_config_dict()
    rows = "\n".join(
        f"| {key} | `{json.dumps(value, ensure_ascii=False)}` |" for key, value in config.items()
    )
    prompt_rows = "\n".join(f"- `{name}`: `{text!r}`" for name, text in prompts.items()) or "none"
    return f"""---
library_name: sentence-transformers
tags: [sentence-transformers, reba, feature-extraction, training-free]
---

# reba: {module.embedder.model_name} / {module.method} (k={module.k})

A training-free text embedder built by [reba](https://pypi.org/project/reba/): no weights
are stored here. `reba_st.py` builds a `reba.Embedder` from `reba_config.json` with the
installed `reba` package (`pip install reba sentence-transformers`).

```python
from sentence_transformers import SentenceTransformer

model = SentenceTransformer("<this folder>", trust_remote_code=True)
embeddings = model.encode(["a text", "another text"])
```

| setting | value |
|---|---|
{rows}

Similarity: `{similarity}`. Prompts: {prompt_rows}

Built on {platform.python_implementation()} {platform.python_version()}.
"""
