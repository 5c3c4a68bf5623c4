"""LangChain's own standard test suites for embeddings (``langchain-tests``), run against
``RebaEmbeddings`` on the tiny model: the unit suite (construction) and the integration suite
(sync and async queries and documents)."""

from __future__ import annotations

from functools import cache

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests
from tiny_models import make_model

import reba
from reba.integrations.langchain import RebaEmbeddings


@cache
def tiny_embedder() -> reba.Embedder:
    model, tokenizer = make_model("llama")
    return reba.Embedder(reba.wrap_model(model, tokenizer, name="tiny-llama"), method="reba", k=2)


class Reba:
    """What both suites build: ``RebaEmbeddings(model=<tiny embedder>)``."""

    @property
    def embeddings_class(self) -> type[RebaEmbeddings]:
        return RebaEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_embedder()}


class TestRebaEmbeddingsUnit(Reba, EmbeddingsUnitTests):
    pass


# The suite's async tests need pytest-asyncio (installed with langchain-tests). LangChain's
# packages run every coroutine test under it (asyncio_mode=auto); this project marks the class
# instead (and quiets the warning about its sync tests).
@pytest.mark.asyncio
@pytest.mark.filterwarnings("ignore:The test <Function test_.*not an async:pytest.PytestWarning")
class TestRebaEmbeddingsIntegration(Reba, EmbeddingsIntegrationTests):
    pass
