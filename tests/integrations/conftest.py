import os
from pathlib import Path

# The stores' own telemetry would send traffic off the machine: off before they are imported.
os.environ["ANONYMIZED_TELEMETRY"] = "False"  # chromadb
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
os.environ["DO_NOT_TRACK"] = "1"

import pytest

import reba


@pytest.fixture(scope="session")
def tiny_folder(tiny_dir) -> Path:
    """A tiny random Llama saved as a model folder, so a configuration can name it by path."""
    return tiny_dir


@pytest.fixture(scope="session")
def store_config(tiny_folder) -> reba.EmbedderConfig:
    """The configuration the store tests embed with (reba, k=2, on the tiny folder)."""
    return reba.EmbedderConfig(model=str(tiny_folder), method="reba", k=2)


@pytest.fixture(scope="session")
def store_embedder(store_config) -> reba.Embedder:
    return reba.Embedder.from_config(store_config)
