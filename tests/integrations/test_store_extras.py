"""The store integrations are optional: importing reba needs none of them, and a missing one
stops its module at import with the pip line of its extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
STORES = {  # reba module -> (the package it imports, its extra)
    "chroma": ("chromadb", "chroma"),
    "lancedb": ("lancedb", "lancedb"),
    "qdrant": ("qdrant_client", "qdrant"),
    "llamaindex": ("llama_index", "llamaindex"),
    "haystack": ("haystack", "haystack"),
}
SCRIPT = """
import importlib, json, sys
import reba, reba.integrations
packages = {packages}
loaded = sorted(p for p in packages.values() if p in sys.modules)
errors = {{}}
for module, package in packages.items():
    saved = {{k: v for k, v in sys.modules.items() if k == package or k.startswith(package + ".")}}
    sys.modules[package] = None  # as if not installed
    try:
        importlib.import_module("reba.integrations." + module)
    except ImportError as err:
        errors[module] = [type(err).__name__, str(err)]
    sys.modules.pop(package)
    sys.modules.update(saved)
print(json.dumps({{"loaded": loaded, "errors": errors}}))
"""


def test_imports_are_optional_and_name_their_extra():
    packages = {module: package for module, (package, _) in STORES.items()}
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    script = SCRIPT.format(packages=repr(packages))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []  # import reba loads no store package
    for module, (package, extra) in STORES.items():
        kind, message = result["errors"][module]
        assert kind == "MissingDependency", message
        assert (
            f'pip install "reba[{extra}]"' in message and f"reba.integrations.{module}" in message
        )
        assert package.split(".")[0] in message  # names what is missing
