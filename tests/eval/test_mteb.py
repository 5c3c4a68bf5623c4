"""mteb integration: a reba model runs through ``mteb.evaluate`` and scores what it should.

The Hugging Face hub is not reachable in tests, so the task is a local STS task (the first rows
of the project's English STS-B file) defined here the way any mteb STS task is defined.
mteb is a hard requirement here (the ``eval`` extra installs it): no skip if it is missing.
"""

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import mteb  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from datasets import Dataset, DatasetDict  # noqa: E402
from mteb.abstasks.sts import AbsTaskSTS  # noqa: E402
from mteb.abstasks.task_metadata import TaskMetadata  # noqa: E402
from mteb.models import ModelMeta  # noqa: E402
from scipy.stats import pearsonr, spearmanr  # noqa: E402

import reba  # noqa: E402
from reba.integrations.mteb import RebaMtebModel, mteb_model  # noqa: E402

DATA_DIR = Path(
    os.environ.get("REBA_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")
)
N_ROWS = 40


def _read_rows(n: int = N_ROWS) -> list[dict]:
    rows = []
    with (DATA_DIR / "sentence" / "en_STSB.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) == n:
                break
    return rows


class RebaLocalSTSB(AbsTaskSTS):
    """The first rows of English STS-B, read from the local data folder instead of the hub."""

    metadata = TaskMetadata(
        name="RebaLocalSTSB",
        description="First rows of English STS-B (sentence pairs scored 0-5), from local JSONL.",
        dataset={"path": "local/en_STSB", "revision": "local"},
        type="STS",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="cosine_spearman",
        date=("2012-01-01", "2023-12-31"),
        domains=["News", "Web", "Written"],
        task_subtypes=[],
        license="not specified",
        annotations_creators="human-annotated",
        dialect=[],
        sample_creation="machine-translated",
        bibtex_citation="",
    )
    min_score = 0
    max_score = 5

    def load_data(self, num_proc=None, *, timer=None, **kwargs) -> None:
        if self.data_loaded:
            return
        rows = _read_rows()
        split = Dataset.from_dict(
            {
                "sentence1": [r["s1"] for r in rows],
                "sentence2": [r["s2"] for r in rows],
                "score": [float(r["score"]) for r in rows],
            }
        )
        self.dataset = DatasetDict({"test": split})
        self.data_loaded = True


@pytest.fixture(scope="module")
def embedder(smollm2):
    # the session's SmolLM2-135M (reba.load_model("smollm2-135m")), shared with other tests
    return reba.Embedder(smollm2, method="reba", k=2)


def test_mteb_evaluate_matches_independent_score(embedder, tmp_path):
    wrapper = RebaMtebModel(embedder, batch_size=8)
    meta = wrapper.mteb_model_meta
    assert isinstance(meta, ModelMeta)
    assert meta.name == "reba/smollm2-135m-reba-k2"
    assert meta.embed_dim == embedder.dimension == 576
    assert meta.similarity_fn_name == "cosine"

    cache = mteb.ResultCache(cache_path=tmp_path / "mteb")
    result = mteb.evaluate(
        wrapper,
        tasks=[RebaLocalSTSB()],
        cache=cache,
        overwrite_strategy="always",
        encode_kwargs={"batch_size": 16},
        show_progress_bar=False,
        co2_tracker=False,
    )

    assert not result.exceptions
    (task_result,) = result.task_results
    assert task_result.task_name == "RebaLocalSTSB"
    (scores,) = task_result.scores["test"]
    main = scores["main_score"]
    assert main == scores["cosine_spearman"]
    assert task_result.get_score() == pytest.approx(main)
    written = list((tmp_path / "mteb").rglob("RebaLocalSTSB.json"))
    assert len(written) == 1 and "reba__smollm2-135m-reba-k2" in str(written[0])

    # The same score computed without mteb. mteb rescales gold scores to [0, 1] (min_score 0,
    # max_score 5), a linear map, so neither correlation changes.
    rows = _read_rows()
    gold = np.array([r["score"] for r in rows], dtype=np.float64)
    e1 = embedder.encode([r["s1"] for r in rows]).astype(np.float64)
    e2 = embedder.encode([r["s2"] for r in rows]).astype(np.float64)
    cosine = np.sum(e1 * e2, axis=1) / (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1))
    expected = spearmanr(cosine, gold)[0]
    diff = abs(main - expected)
    print(f"mteb cosine_spearman={main:.10f} independent={expected:.10f} diff={diff:.1e}")
    assert main == pytest.approx(expected, abs=1e-6)
    assert scores["cosine_pearson"] == pytest.approx(pearsonr(cosine, gold)[0], abs=1e-6)
    assert 0.0 < main <= 1.0


def test_wrapper_construction_and_meta(embedder):
    wrapper = mteb_model(embedder.lm, method="echo", k=3, batch_size=4, layer=-2)
    assert wrapper.embedder.method == "echo" and wrapper.embedder.k == 3
    meta = wrapper.mteb_model_meta
    assert meta.name == "reba/smollm2-135m-echo-k3-layer-2"
    assert meta.loader_kwargs["config"] == wrapper.embedder.config.to_dict()
    assert meta.n_parameters > 100_000_000
    assert meta.use_instructions is False and meta.training_datasets == set()
    with pytest.raises(TypeError, match="one of them"):
        RebaMtebModel(embedder, method="mean")
    with pytest.raises(ValueError, match="batch_size"):
        RebaMtebModel(embedder, batch_size=0)


def test_empty_texts(embedder):
    strict = RebaMtebModel(embedder)
    with pytest.raises(ValueError, match="empty"):
        strict.encode_texts(["a text", "  "])
    lenient = RebaMtebModel(embedder, on_empty="zero")
    out = lenient.encode_texts(["a text", "  ", "another"])
    assert out.dtype == np.float32 and out.shape == (3, 576)
    assert not out[1].any()
    np.testing.assert_allclose(out[[0, 2]], embedder.encode(["a text", "another"]), atol=1e-6)
