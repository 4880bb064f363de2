"""Tests for skhyre.decomposition.EnsemblePCA (function-space PCA of ensembles)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

from skhyre.decomposition import EnsemblePCA


def _members(K: int = 12, n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.linspace(-1.0, 1.0, n)
    coef = rng.normal(size=(K, 4))
    basis = np.vstack([np.ones_like(x), x, np.sin(3 * x), np.cos(5 * x)])
    return coef @ basis + 0.05 * rng.normal(size=(K, n))


class _TinyEnsemble:
    """A fitted-looking object with predict_members, as the estimators expose."""

    def __init__(self, n_outputs: int | None = None, K: int = 7, seed: int = 1):
        rng = np.random.default_rng(seed)
        self.slopes = rng.normal(size=K)
        self.curv = rng.normal(size=K)
        self.n_outputs = n_outputs

    def predict_members(self, X):
        x = np.asarray(X, dtype=float)[:, 0]
        F = self.slopes[:, None] * x + self.curv[:, None] * x**2
        if self.n_outputs is None:
            return F
        p = 1.0 / (1.0 + np.exp(-F))
        return np.stack([1.0 - p, p], axis=-1)


@pytest.mark.parametrize(("K", "n"), [(12, 40), (30, 9)])
def test_full_reconstruction_is_exact(K, n):
    M = _members(K, n)
    pca = EnsemblePCA().fit(M)
    assert pca.n_components_ == min(K, n)
    np.testing.assert_allclose(pca.reconstruct(M), M, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(M)), M, rtol=0, atol=1e-10)


def test_explained_variance_ratio_sums_to_one_and_is_non_increasing():
    M = _members(15, 25)
    pca = EnsemblePCA().fit(M)
    evr = pca.explained_variance_ratio_
    assert evr.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(evr) <= 1e-15)
    assert np.all(evr >= 0)
    # The total variance of the members equals the sum of explained variances.
    total = M.var(axis=0, ddof=1).sum()
    assert pca.explained_variance_.sum() == pytest.approx(total, rel=1e-12)
    # A truncated fit reports the same leading ratios.
    pca3 = EnsemblePCA(n_components=3).fit(M)
    np.testing.assert_allclose(pca3.explained_variance_ratio_, evr[:3], rtol=1e-12)
    assert pca3.explained_variance_ratio_.sum() < 1.0


def test_components_are_orthonormal_with_deterministic_sign():
    M = _members(10, 50)
    pca = EnsemblePCA(n_components=6).fit(M)
    V = pca.components_
    np.testing.assert_allclose(V @ V.T, np.eye(6), atol=1e-12)
    # svd_flip(u_based_decision=False): the largest-magnitude entry is positive.
    largest = V[np.arange(6), np.argmax(np.abs(V), axis=1)]
    assert np.all(largest > 0)
    again = EnsemblePCA(n_components=6).fit(M.copy())
    np.testing.assert_array_equal(again.components_, V)


def test_matches_sklearn_pca_up_to_sign():
    M = _members(20, 30, seed=3)
    ours = EnsemblePCA(n_components=5).fit(M)
    ref = PCA(n_components=5, svd_solver="full").fit(M)
    np.testing.assert_allclose(ours.mean_, ref.mean_, atol=1e-12)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))
    assert np.all(np.abs(signs) == 1)
    np.testing.assert_allclose(ours.components_, signs[:, None] * ref.components_, atol=1e-10)
    np.testing.assert_allclose(ours.transform(M), ref.transform(M) * signs, atol=1e-10)


def test_low_rank_construction_recovers_its_rank():
    rng = np.random.default_rng(4)
    K, n, rank = 25, 60, 3
    mean = np.sin(np.linspace(0, 3, n))
    M = mean + rng.normal(size=(K, rank)) @ rng.normal(size=(rank, n))
    pca = EnsemblePCA().fit(M)
    evr = pca.explained_variance_ratio_
    assert evr[:rank].sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(evr[rank:] < 1e-20)
    assert np.all(evr[:rank] > 1e-3)
    np.testing.assert_allclose(pca.reconstruct(M, n_components=rank), M, atol=1e-10)
    err = np.abs(pca.reconstruct(M, n_components=rank - 1) - M).max()
    assert err > 1e-3


def test_reconstruct_partial_is_projection_and_zero_gives_mean():
    M = _members(12, 20)
    pca = EnsemblePCA(n_components=8).fit(M)
    k = 3
    V = pca.components_[:k]
    expected = (M - pca.mean_) @ V.T @ V + pca.mean_
    np.testing.assert_allclose(pca.reconstruct(M, n_components=k), expected, atol=1e-12)
    np.testing.assert_allclose(pca.reconstruct(M, 0), np.tile(pca.mean_, (12, 1)), atol=1e-12)
    errors = [np.linalg.norm(pca.reconstruct(M, j) - M) for j in range(9)]
    assert np.all(np.diff(errors) <= 1e-12)


def test_transform_new_members_and_fit_transform():
    M = _members(12, 20)
    pca = EnsemblePCA(n_components=4).fit(M)
    new = _members(5, 20, seed=9)
    np.testing.assert_allclose(pca.transform(new), (new - pca.mean_) @ pca.components_.T)
    Z = EnsemblePCA(n_components=4).fit_transform(M)
    np.testing.assert_allclose(Z, pca.transform(M), atol=1e-10)
    names = pca.get_feature_names_out()
    assert list(names) == [f"ensemblepca{i}" for i in range(4)]


def test_three_dimensional_predictions_are_flattened_and_restored():
    rng = np.random.default_rng(5)
    M = rng.dirichlet(np.ones(3), size=(8, 10))  # (K, n, C) probabilities
    pca = EnsemblePCA().fit(M)
    assert pca.output_shape_ == (10, 3)
    assert pca.n_features_in_ == 30
    assert pca.mean_.shape == (30,)
    assert pca.components_.shape == (8, 30)
    back = pca.reconstruct(M)
    assert back.shape == M.shape
    np.testing.assert_allclose(back, M, atol=1e-10)
    assert pca.inverse_transform(pca.transform(M[:2])).shape == (2, 10, 3)
    np.testing.assert_allclose(
        pca.transform(M), EnsemblePCA().fit(M.reshape(8, 30)).transform(M.reshape(8, 30))
    )


@pytest.mark.parametrize("n_outputs", [None, 2])
def test_estimator_path(n_outputs):
    est = _TinyEnsemble(n_outputs=n_outputs)
    X = np.linspace(-1, 1, 15)[:, None]
    M = est.predict_members(X)
    direct = EnsemblePCA(n_components=3).fit(M)
    via_fit = EnsemblePCA(n_components=3).fit(est, X)
    via_method = EnsemblePCA(n_components=3).fit_estimator(est, X)
    for other in (via_fit, via_method):
        np.testing.assert_array_equal(other.components_, direct.components_)
        np.testing.assert_array_equal(other.mean_, direct.mean_)
        assert other.output_shape_ == M.shape[1:]
        assert other.n_members_ == 7
    np.testing.assert_allclose(via_fit.transform(est, X), direct.transform(M), atol=1e-12)
    np.testing.assert_allclose(
        via_fit.reconstruct(est, 3, X=X), direct.reconstruct(M, 3), atol=1e-12
    )
    np.testing.assert_allclose(
        EnsemblePCA(3).fit_transform(est, X), direct.transform(M), atol=1e-12
    )


def test_sklearn_clone_and_params():
    pca = EnsemblePCA(n_components=2)
    assert pca.get_params() == {"n_components": 2}
    cloned = clone(pca).fit(_members())
    assert cloned.n_components_ == 2
    assert not hasattr(pca, "components_")


def test_identical_members_give_zero_ratio():
    M = np.tile(np.linspace(0, 1, 6), (4, 1))
    pca = EnsemblePCA(n_components=2).fit(M)
    np.testing.assert_array_equal(pca.explained_variance_ratio_, [0.0, 0.0])
    np.testing.assert_allclose(pca.reconstruct(M), M)


class TestBadInput:
    def test_non_finite(self):
        M = _members(5, 6)
        M[1, 2] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            EnsemblePCA().fit(M)
        M[1, 2] = np.inf
        with pytest.raises(ValueError, match="infinity"):
            EnsemblePCA().fit(M)
        pca = EnsemblePCA().fit(_members(5, 6))
        with pytest.raises(ValueError, match="NaN"):
            pca.transform(np.full((2, 6), np.nan))

    @pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5)])
    def test_wrong_ndim(self, shape):
        with pytest.raises(ValueError, match="ndim"):
            EnsemblePCA().fit(np.zeros(shape))

    def test_too_many_components(self):
        with pytest.raises(ValueError, match="at most min"):
            EnsemblePCA(n_components=6).fit(_members(5, 20))
        with pytest.raises(ValueError, match="at most min"):
            EnsemblePCA(n_components=4).fit(_members(10, 3))

    @pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
    def test_invalid_n_components(self, bad):
        with pytest.raises((ValueError, TypeError), match="n_components"):
            EnsemblePCA(n_components=bad).fit(_members(5, 6))

    def test_single_member(self):
        with pytest.raises(ValueError, match="at least 2 members"):
            EnsemblePCA().fit(_members(1, 6))

    def test_transform_mismatched_inputs(self):
        pca = EnsemblePCA(n_components=2).fit(_members(5, 6))
        with pytest.raises(ValueError, match="per-member shape"):
            pca.transform(_members(5, 7))
        with pytest.raises(ValueError, match="per-member shape"):
            pca.reconstruct(np.zeros((5, 6, 2)))
        with pytest.raises(ValueError, match="columns"):
            pca.inverse_transform(np.zeros((3, 3)))

    def test_reconstruct_too_many_components(self):
        pca = EnsemblePCA(n_components=2).fit(_members(5, 6))
        with pytest.raises(ValueError, match="n_components_=2"):
            pca.reconstruct(_members(5, 6), n_components=3)
        with pytest.raises(TypeError, match="int"):
            pca.reconstruct(_members(5, 6), n_components=1.5)

    def test_not_fitted(self):
        with pytest.raises(NotFittedError):
            EnsemblePCA().transform(_members())

    def test_estimator_path_errors(self):
        est = _TinyEnsemble()
        with pytest.raises(ValueError, match="X is required"):
            EnsemblePCA().fit(est)
        with pytest.raises(TypeError, match="predict_members"):
            EnsemblePCA().fit_estimator(object(), np.zeros((3, 1)))
        with pytest.raises(TypeError, match="X is only used"):
            EnsemblePCA().fit(_members(), np.zeros((3, 1)))
        pca = EnsemblePCA().fit(est, np.zeros((4, 1)) + np.arange(4)[:, None])
        with pytest.raises(ValueError, match="X is required"):
            pca.transform(est)
