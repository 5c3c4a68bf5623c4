"""Post-processing fitted on vectors (reba.postprocess) against direct numpy computations:
mean removal, all-but-the-top against an SVD of the centred data, whitening's covariance,
and saved states refused when changed or for the wrong dimension."""

import json

import numpy as np
import pytest

from reba.postprocess import (
    StateFileError,
    apply_all,
    fit,
    fit_abtt,
    fit_mean,
    fit_whitening,
    load_state,
    save_state,
)

D = 16


def vectors(n=200, d=D, seed=0):
    """Anisotropic vectors with a large common mean (as LM embeddings have) and distinct
    variances, so the principal directions are well defined."""
    rng = np.random.default_rng(seed)
    scales = np.linspace(5.0, 0.2, d)
    rotation, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (rng.normal(size=(n, d)) * scales) @ rotation + 10 * rng.normal(size=d)


def svd_axes(x):
    """Principal directions of x (columns), straight from the SVD of the centred data."""
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred, s, vt.T


def test_mean_removal():
    x = vectors()
    state = fit_mean(x)
    out = state.apply(x[:7])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x[:7] - x.mean(axis=0), atol=1e-5)


@pytest.mark.parametrize("k", [1, 3])
def test_abtt_matches_a_direct_svd(k):
    x = vectors()
    centred, _, axes = svd_axes(x)
    top = axes[:, :k]
    want = centred - centred @ top @ top.T  # signs of the axes cancel
    np.testing.assert_allclose(fit_abtt(x, k=k).apply(x), want, atol=1e-4)
    # the paper's printed formula projects the raw vectors
    raw = centred - x @ top @ top.T
    np.testing.assert_allclose(fit_abtt(x, k=k, projection="raw").apply(x), raw, atol=1e-4)


def test_abtt_default_k_is_d_over_100():
    x = vectors(n=400, d=250, seed=3)
    assert fit_abtt(x).params["k"] == 2  # Mu & Viswanath: D ~ d / 100


@pytest.mark.parametrize("dims", [None, 5])
def test_whitening_makes_the_covariance_identity(dims):
    x = vectors()
    out = fit_whitening(x, dims=dims).apply(x).astype(np.float64)
    want_dims = dims or D
    assert out.shape == (len(x), want_dims)
    np.testing.assert_allclose(np.cov(out.T), np.eye(want_dims), atol=1e-5)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-5)


def test_whitening_to_fewer_dims_keeps_the_top_directions():
    """Reduced whitening = the centred data on the top principal axes, each scaled to unit
    variance (Su et al.: kernel[:, :k]); compared per column up to the axis's sign."""
    x = vectors()
    centred, s, axes = svd_axes(x)
    want = centred @ axes[:, :4] / (s[:4] / np.sqrt(len(x) - 1))
    got = fit_whitening(x, dims=4).apply(x)
    signs = np.sign(np.sum(got * want, axis=0))
    np.testing.assert_allclose(got * signs, want, atol=1e-4)


def test_fitting_is_deterministic_and_signs_are_fixed():
    x = vectors()
    first, second = fit_whitening(x), fit_whitening(x.copy())
    assert first.digest == second.digest
    assert fit_whitening(x, source={"model": "other"}).digest != first.digest  # source counts
    m = first.matrix
    assert (m[np.argmax(np.abs(m), axis=0), np.arange(m.shape[1])] > 0).all()
    # a float32 copy of the same vectors is fitted in float64 too: same state up to rounding
    close = fit_whitening(x.astype(np.float32))
    np.testing.assert_allclose(close.matrix, m, rtol=1e-4, atol=1e-6)


def test_registry_fits_by_name():
    x = vectors()
    assert fit("abtt", x, k=2).digest == fit_abtt(x, k=2).digest
    with pytest.raises(ValueError, match="unknown post-processing 'pca'.*mean, abtt, whitening"):
        fit("pca", x)


def test_save_and_load_round_trip(tmp_path):
    x = vectors()
    state = fit_abtt(x, k=2, source={"model": "tiny", "method": "prompteol"})
    digest = save_state(state, tmp_path / "pp")
    meta = json.loads((tmp_path / "pp" / "state.json").read_text())
    assert meta["sha256"] == digest and meta["written_by"].startswith("reba ")
    assert meta["source"] == {"model": "tiny", "method": "prompteol"}
    loaded = load_state(tmp_path / "pp", dim=D, sha256=digest)
    assert loaded.digest == digest
    np.testing.assert_array_equal(loaded.apply(x), state.apply(x))


def test_changed_files_are_refused(tmp_path):
    x = vectors()
    save_state(fit_whitening(x, dims=4), tmp_path / "a")
    meta_file = tmp_path / "a" / "state.json"
    meta = json.loads(meta_file.read_text())
    meta["params"]["dims"] = 3
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(StateFileError, match="digest mismatch"):
        load_state(tmp_path / "a")
    # arrays of another state next to this one's metadata
    save_state(fit_whitening(x, dims=4), tmp_path / "b")
    save_state(fit_whitening(x[:100], dims=4), tmp_path / "c")
    (tmp_path / "c" / "state.safetensors").replace(tmp_path / "b" / "state.safetensors")
    with pytest.raises(StateFileError, match="digest mismatch"):
        load_state(tmp_path / "b")


def test_wrong_dimension_or_digest_is_refused(tmp_path):
    digest = save_state(fit_mean(vectors()), tmp_path / "m")
    with pytest.raises(StateFileError, match="fitted on 16-dimensional vectors; these .* 32"):
        load_state(tmp_path / "m", dim=32)
    with pytest.raises(StateFileError, match="expects 000000000000"):
        load_state(tmp_path / "m", sha256="0" * 64)
    with pytest.raises(StateFileError, match="no saved post-processing state"):
        load_state(tmp_path / "missing")
    assert load_state(tmp_path / "m", dim=D, sha256=digest).kind == "mean"


def test_bad_vectors_are_refused_with_the_row():
    x = vectors()
    state = fit_mean(x)
    with pytest.raises(ValueError, match="vectors have 15 dimensions, this state was fitted on 16"):
        state.apply(x[:, :15])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3 holds NaN or inf"):
        fit_whitening(bad)
    with pytest.raises(ValueError, match="expected a 2-D array"):
        state.apply(x[0])


def test_impossible_fits_are_refused():
    x = vectors(n=6)
    with pytest.raises(ValueError, match="span only 5 of 16 dimensions.*dims <= 5"):
        fit_whitening(x)
    assert fit_whitening(x, dims=5).dim_out == 5
    with pytest.raises(ValueError, match="k must be an integer in 1..15"):
        fit_abtt(x, k=16)
    with pytest.raises(ValueError, match="needs at least 7 vectors"):
        fit_abtt(x, k=6)


def test_steps_chain_when_dimensions_meet():
    x = vectors()
    first = fit_abtt(x, k=1)
    second = fit_whitening(first.apply(x).astype(np.float64), dims=3)
    chained = apply_all([first, second], x)
    np.testing.assert_allclose(chained, second.apply(first.transform(x)), atol=1e-6)
    with pytest.raises(ValueError, match="step 2 \\(abtt\\) takes 16 dimensions, but step 1"):
        apply_all([second, first], x)
