"""MoEE against the naive reference (tests/reference.py: router logits by hand from each MoE
layer's MLP input and its gate's weight), on tiny random Mixtral, Qwen2-MoE (dense layers
between MoE layers, a shared expert) and OLMoE models; padded, packed, batch-invariant; the
corpus-fitted statistics against the authors' per-batch form; refusals."""

import numpy as np
import pytest
import reference as R
import torch
from checks import assert_close
from tiny_models import make_model
from tiny_moe import MOE_FAMILIES, make_moe_model

import reba
from reba.methods import parse_method
from reba.moee import fit_stats, summed_similarity, with_moee
from reba.postprocess import load_state

TEXTS = [
    "The bank raised interest rates again this year.",
    "A bat flew out",
    "我们去银行取钱。",
    "We sat on the river bank and watched the boats.",
    "He swung the bat.",
]
PROMPTEOL = 'This sentence : "{text}" means in one word:"'
SOFTMAX = {"mixtral": True, "qwen2_moe": False, "olmoe": False}  # the authors' table
EXPERTS = {"mixtral": 4 * 4, "qwen2_moe": 2 * 4, "olmoe": 4 * 4}  # MoE layers x experts


@pytest.fixture(scope="module", params=MOE_FAMILIES)
def moe(request):
    lm = reba.wrap_model(*make_moe_model(request.param), name=f"tiny-{request.param}")
    return request.param, lm


def raw_reference(family, lm, texts=TEXTS, softmax=None):
    softmax = SOFTMAX[family] if softmax is None else softmax
    rows = [R.moee_raw(lm.model, lm.tokenizer, PROMPTEOL, t, softmax) for t in texts]
    return torch.stack(rows)


def unit(x):
    return x / x.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("router", ["auto", "the other"])
def test_raw_vectors_match_reference(moe, router):
    family, lm = moe
    if router != "auto":  # the normalisation the table does not give this family
        router = "logits" if SOFTMAX[family] else "softmax"
    embedder = reba.Embedder(lm, method=f"moee[stats=none,router={router}]")
    got = embedder.encode(TEXTS, batch_size=2)
    softmax = {"auto": None, "logits": False, "softmax": True}[router]
    want = raw_reference(family, lm, softmax=softmax)
    assert embedder.dimension == 32 + EXPERTS[family] == got.shape[1]
    assert_close(got, want.numpy())


def test_padded_packed_and_batch_invariant(moe):
    _, lm = moe
    embedder = reba.Embedder(lm, method="moee[stats=none]")
    one = np.stack([embedder.encode([t])[0] for t in TEXTS])
    assert_close(embedder.encode(TEXTS, batch_size=5), one)
    assert_close(embedder.embed(TEXTS, batch_size=5, packing=True).embeddings, one)


def test_corpus_statistics_match_reference_and_ignore_neighbours(moe, tmp_path):
    family, lm = moe
    method = fit_stats(lm, TEXTS, tmp_path / "stats", method="moee")
    assert method == f"moee+moee[stats={tmp_path / 'stats'}]"
    raw = raw_reference(family, lm)
    mean, std = raw.mean(0), raw.std(0)
    want = R.zscored(raw, mean, std).numpy()
    embedder = reba.Embedder(lm, method=method)
    assert_close(embedder.encode(TEXTS, batch_size=2), want)
    # a text's vector does not depend on what is embedded with it
    assert_close(embedder.encode(TEXTS[:1])[0], want[0])
    assert_close(embedder.encode([TEXTS[0], *TEXTS[3:]])[0], want[0])
    state = load_state(tmp_path / "stats")
    assert state.kind == "zscore" and state.fitted_on == len(TEXTS)
    assert state.source["model"] == lm.name
    assert embedder.describe()["recipe"]["moee"]["stats"] == str(tmp_path / "stats")


def test_batch_statistics_are_the_authors_and_depend_on_neighbours(moe):
    family, lm = moe
    raw = raw_reference(family, lm)
    embedder = reba.Embedder(lm, method="moee[stats=batch,batch=3]")
    got = embedder.encode(TEXTS, batch_size=2)
    want = torch.cat([R.zscored(raw[:3]), R.zscored(raw[3:])]).numpy()
    assert_close(got, want)
    alone = embedder.encode([TEXTS[0], TEXTS[1], TEXTS[3]])[0]
    assert np.abs(alone - got[0]).max() > 1e-2  # other neighbours, another vector


def test_sum_cosine_is_the_authors_summed_similarity(moe, tmp_path):
    family, lm = moe
    alpha = 0.5
    method = fit_stats(lm, TEXTS, tmp_path / "s", method=f"moee-sum[alpha={alpha}]")
    got = reba.Embedder(lm, method=method).encode(TEXTS)
    raw = raw_reference(family, lm)
    z = R.zscored(raw, raw.mean(0), raw.std(0))
    hs, rw = unit(z[:, :32]), unit(z[:, 32:])
    want = (hs @ hs.T + alpha * rw @ rw.T).numpy()  # the authors' sum, by hand
    cosine = got @ got.T / np.outer(*(2 * [np.linalg.norm(got, axis=1)]))
    assert_close(cosine * (1 + alpha), want)
    assert_close(summed_similarity(got, got, 32, alpha), want)
    assert_close(summed_similarity(z.numpy(), z.numpy(), 32, alpha), want)


def test_refusals(moe, tmp_path):
    _, lm = moe
    with pytest.raises(ValueError, match="fitted once on a corpus"):
        reba.Embedder(lm, method="moee")
    with pytest.raises(ValueError, match="no saved post-processing state"):
        reba.Embedder(lm, method=f"moee[stats={tmp_path / 'missing'}]")
    with pytest.raises(ValueError, match="at the last token"):
        parse_method("moee+mean")
    with pytest.raises(ValueError, match="one input"):
        parse_method("metaeol+moee")
    with pytest.raises(ValueError, match="without , \\[ or \\]"):
        with_moee("moee", stats=str(tmp_path / "a,b"))


def test_refused_on_a_model_without_routers():
    lm = reba.wrap_model(*make_model("llama"), name="tiny-llama")
    with pytest.raises(ValueError, match="tiny-llama \\(LlamaModel\\) has no routers"):
        reba.Embedder(lm, method="moee[stats=batch]")


def test_recipe_round_trip_and_provenance(moe, tmp_path):
    from reba.methods.serialize import recipe_from_dict, recipe_to_dict

    family, lm = moe
    for name in ("moee", "moee-sum"):
        recipe = reba.PRESETS[name]
        assert recipe_from_dict(recipe_to_dict(recipe)) == recipe
    method = fit_stats(lm, TEXTS, tmp_path / "s", method="moee-sum")
    described = reba.Embedder(lm, method=method).describe()["moee"]
    digest = load_state(tmp_path / "s").digest
    assert described["hidden"] == 32 and described["routing"] == EXPERTS[family]
    assert described["stats_sha256"] == digest
    key = reba.methods.check_config(reba.methods.EmbeddingConfig(method), "sentence").fingerprint()
    assert key["stats_sha256"] == digest


def test_cli_fits_statistics_and_embed_serve_use_them(tmp_path):
    """``reba fit-moee`` in a real process on a saved tiny OLMoE; the statistics it writes give
    the Python API's vectors; serve refuses the per-batch form."""
    import subprocess
    import sys

    from reba.config import EmbedderConfig
    from reba.serve.configs import ServedConfig, build_embedders

    model, tokenizer = make_moe_model("olmoe")
    folder = tmp_path / "olmoe"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    argv = ["--model", str(folder), "--method", "moee-sum", "--input", str(corpus)]
    done = subprocess.run(
        [sys.executable, "-m", "reba.cli.main", "fit-moee", *argv, "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    method = done.stdout.strip()
    assert method == f"moee-sum+moee[stats={tmp_path / 's'}]"
    state = load_state(tmp_path / "s")
    assert state.fitted_on == len(TEXTS) and state.source["method"].startswith("moee-sum")
    lm = reba.load_model(str(folder), device="cpu")
    expected = fit_stats(lm, TEXTS, tmp_path / "again", method="moee-sum")
    want = reba.Embedder(lm, method=expected).encode(TEXTS)
    assert_close(reba.Embedder(lm, method=method).encode(TEXTS), want)
    served = [ServedConfig(EmbedderConfig(model=str(folder), method="moee[stats=batch]"))]
    with pytest.raises(ValueError, match="per-batch statistics"):
        build_embedders(served, loader=lambda *a, **k: lm)


def test_combines_with_repetition_and_interventions(moe):
    """Repetition (``echo-last``, k copies: RW at the last copy's last token) against the
    reference; with TP/CP the hidden-state part is the intervention's own vector (tested against
    the reference in test_methods_reference) and the routers are read from the same changed
    pass (they move)."""
    family, lm = moe
    for k in (2, 3):
        got = reba.Embedder(lm, method="echo-last+moee[stats=none]", k=k).encode(TEXTS[:3])
        want = [R.moee_raw(lm.model, lm.tokenizer, None, t, SOFTMAX[family], k=k) for t in TEXTS]
        assert_close(got, torch.stack(want[:3]).numpy())
    plain = reba.Embedder(lm, method="prompteol+moee[stats=none]").encode(TEXTS)
    for intervention in ("tp", "cp"):
        method = f"prompteol+{intervention}+moee[stats=none]"
        got = reba.Embedder(lm, method=method, layer=-1).encode(TEXTS, batch_size=2)
        hidden = reba.Embedder(lm, method=f"prompteol+{intervention}", layer=-1).encode(TEXTS)
        assert_close(got[:, :32], hidden)
        assert np.abs(got[:, 32:] - plain[:, 32:]).max() > 1e-3


def test_zscore_state_fits_saves_and_refuses_changes(tmp_path):
    from safetensors.numpy import load_file, save_file

    from reba.postprocess import fit_zscore, save_state
    from reba.postprocess.files import StateFileError

    x = np.random.default_rng(0).standard_normal((7, 5)) * [1, 2, 3, 4, 5] + 10
    state = fit_zscore(x, {"model": "m"})
    want = R.zscored(x, torch.tensor(x).mean(0), torch.tensor(x).std(0)).numpy()
    assert_close(state.apply(x), want)
    digest = save_state(state, tmp_path / "z")
    assert_close(load_state(tmp_path / "z", dim=5, sha256=digest).apply(x), want)
    arrays = load_file(str(tmp_path / "z" / "state.safetensors"))
    arrays["scale"] = arrays["scale"] * 2
    save_file(arrays, str(tmp_path / "z" / "state.safetensors"))
    with pytest.raises(StateFileError, match="digest mismatch"):
        load_state(tmp_path / "z")
