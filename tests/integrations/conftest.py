import os
from pathlib import Path

# The stores' own telemetry would send traffic off the machine: off before they are imported.
os.environ["ANONYMIZED_TELEMETRY"] = "False"  # chromadb
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"
os.environ["DO_NOT_TRACK"] = "1"

import pytest
from tiny_models import make_model

import reba


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """A tiny random Llama saved as a model folder, so a configuration can name it by path."""
    folder = tmp_path_factory.mktemp("tiny-llama-folder")
    model, tokenizer = make_model("llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def store_config(tiny_folder) -> reba.EmbedderConfig:
    """The configuration the store tests embed with (reba, k=2, on the tiny folder)."""
    return reba.EmbedderConfig(model=str(tiny_folder), method="reba", k=2)


@pytest.fixture(scope="session")
def store_embedder(store_config) -> reba.Embedder:
    return reba.Embedder.from_config(store_config)
