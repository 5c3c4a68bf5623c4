"""The server with real SmolLM2-135M weights answers exactly what Embedder.encode gives."""

from __future__ import annotations

import numpy as np
import openai

import reba
from reba.serve import create_app, serve_in_thread

TEXTS = ["The bank raised interest rates.", "We sat on the river bank.", "A bat flew out."]


def test_smollm2_embeddings_and_usage(smollm2):
    embedder = reba.Embedder(smollm2, method="reba", k=2)
    app = create_app({"smollm2-135m-reba-k2": embedder})
    with (
        serve_in_thread(app) as running,
        openai.OpenAI(base_url=f"{running.url}/v1", api_key="x", max_retries=0) as client,
    ):
        response = client.embeddings.create(model="smollm2-135m-reba-k2", input=TEXTS)
    got = np.array([d.embedding for d in response.data])
    assert got.shape == (3, 576)
    np.testing.assert_allclose(got, embedder.encode(TEXTS), atol=1e-6, rtol=0)
    tokens = sum(len(smollm2.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in TEXTS)
    assert response.usage.prompt_tokens == tokens == response.usage.total_tokens
