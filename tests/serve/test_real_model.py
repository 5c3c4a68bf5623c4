"""The server with real SmolLM2-135M weights answers what Embedder.encode gives."""

from __future__ import annotations

import numpy as np
import openai
import pytest

import reba
from reba.serve import ServeSettings, create_app, serve_in_thread

TEXTS = ["The bank raised interest rates.", "We sat on the river bank.", "A bat flew out."]


# Packed rows are other matrix shapes than encode's padded batches: float32 kernels then differ
# by a few ulp of activations that reach ~40 (see test_batch_invariance_on_real_weights).
@pytest.mark.parametrize("packing, atol", [(True, 1e-4), (False, 1e-6)])
def test_smollm2_embeddings_and_usage(smollm2, packing, atol):
    embedder = reba.Embedder(smollm2, method="reba", k=2)
    settings = ServeSettings(packing=packing)
    app = create_app({"smollm2-135m-reba-k2": embedder}, settings=settings)
    with (
        serve_in_thread(app) as running,
        openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0) as client,
    ):
        response = client.embeddings.create(model="smollm2-135m-reba-k2", input=TEXTS)
    got = np.array([d.embedding for d in response.data])
    assert got.shape == (3, 576)
    np.testing.assert_allclose(got, embedder.encode(TEXTS), atol=atol, rtol=0)
    tokens = sum(len(smollm2.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in TEXTS)
    assert response.usage.prompt_tokens == tokens == response.usage.total_tokens
