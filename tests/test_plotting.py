"""Smoke and input tests for skhyre.plotting (Agg backend, files under tmp_path)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from skhyre.decomposition import EnsemblePCA  # noqa: E402
from skhyre.plotting import (  # noqa: E402
    plot_components,
    plot_learning_curve,
    plot_members,
    plot_weights,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _save(ax, tmp_path, name):
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 0
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def _weights_history(K=15, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    losses = rng.integers(0, 2, size=(K, steps))
    cum = np.hstack([np.zeros((K, 1)), np.cumsum(losses, axis=1)]).T
    W = np.exp(-cum)
    return W / W.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------- plot_weights
def test_plot_weights_top_lines_and_band(tmp_path):
    W = _weights_history(K=15)
    ax = plot_weights(W, top=10)
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 10
    assert len(ax.collections) == 1  # the band of the 5 other members
    assert ax.get_xlabel() == "labels seen"
    # Lines are the members with the largest final weight, in that order.
    top = np.argsort(-W[-1], kind="stable")[:10]
    for line, k in zip(ax.lines, top):
        np.testing.assert_allclose(line.get_ydata(), W[:, k])
        assert line.get_label() == f"member {k}"
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(7))
    _save(ax, tmp_path, "weights")


def test_plot_weights_few_members_no_band_and_labels(tmp_path):
    W = _weights_history(K=4)
    _fig, given = plt.subplots()
    ax = plot_weights(W, ax=given, member_labels=list("abcd"), labels_seen=np.arange(7) * 2)
    assert ax is given
    assert len(ax.lines) == 4
    assert len(ax.collections) == 0
    assert {line.get_label() for line in ax.lines} == set("abcd")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(7) * 2)
    _save(ax, tmp_path, "weights_few")


def test_plot_weights_bad_input():
    W = _weights_history(K=5)
    with pytest.raises(ValueError, match="2-D"):
        plot_weights(W[-1])
    with pytest.raises(ValueError, match="member_labels"):
        plot_weights(W, member_labels=["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        plot_weights(-W)
    with pytest.raises(ValueError, match="NaN"):
        plot_weights(np.full_like(W, np.nan))
    with pytest.raises(ValueError, match="labels_seen"):
        plot_weights(W, labels_seen=[0, 1])
    with pytest.raises(ValueError, match="top"):
        plot_weights(W, top=-1)
    with pytest.raises(TypeError, match="ax"):
        plot_weights(W, ax="not an axes")


# ---------------------------------------------------------- plot_learning_curve
def test_plot_learning_curve_with_band_and_baselines(tmp_path):
    n = [0, 4, 8, 16, 32]
    scores = [0.6, 0.7, 0.75, 0.8, 0.82]
    ax = plot_learning_curve(
        n, scores, label="HyRe", std=[0.0, 0.05, 0.04, 0.02, 0.01],
        baseline={"uniform": 0.6, "oracle": 0.9},
    )  # fmt: skip
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 3
    assert len(ax.collections) == 1
    np.testing.assert_allclose(ax.lines[0].get_ydata(), scores)
    assert [line.get_label() for line in ax.lines] == ["HyRe", "uniform", "oracle"]
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [0.9, 0.9])
    assert ax.get_ylabel() == "accuracy"
    # A second curve on the same axes.
    ax2 = plot_learning_curve(n, [0.6] * 5, ax=ax, label="fine-tuning", ylabel="score")
    assert ax2 is ax and len(ax.lines) == 4 and ax.get_ylabel() == "score"
    _save(ax, tmp_path, "curve")


def test_plot_learning_curve_sorts_x():
    ax = plot_learning_curve([8, 0, 4], [0.8, 0.5, 0.7])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 4, 8])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.5, 0.7, 0.8])
    assert len(ax.collections) == 0


def test_plot_learning_curve_bad_input():
    with pytest.raises(ValueError, match="length"):
        plot_learning_curve([1, 2, 3], [0.5, 0.6])
    with pytest.raises(ValueError, match="std"):
        plot_learning_curve([1, 2], [0.5, 0.6], std=[0.1])
    with pytest.raises(ValueError, match="non-negative"):
        plot_learning_curve([1, 2], [0.5, 0.6], std=[0.1, -0.1])
    with pytest.raises(TypeError, match="baseline"):
        plot_learning_curve([1, 2], [0.5, 0.6], baseline=[0.5])
    with pytest.raises(ValueError, match="finite"):
        plot_learning_curve([1, 2], [0.5, 0.6], baseline={"x": np.nan})
    for bad in ("abc", None):
        with pytest.raises(ValueError, match="finite number"):
            plot_learning_curve([1, 2], [0.5, 0.6], baseline={"x": bad})
    with pytest.raises(ValueError, match="1-D"):
        plot_learning_curve([[1, 2]], [[0.5, 0.6]])


# -------------------------------------------------------------- plot_components
def _pca_data(K=30, n=40, seed=0):
    x = np.linspace(-1, 1, n)
    coef = np.random.default_rng(seed).normal(size=(K, 3))
    return x, coef[:, :1] + coef[:, 1:2] * x + coef[:, 2:] * np.sin(3 * x)


def test_plot_components_from_pca(tmp_path):
    x, M = _pca_data()
    pca = EnsemblePCA(n_components=4).fit(M)
    ax = plot_components(x, pca, n_components=3, mean=True)
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 4
    scale = np.sqrt(pca.explained_variance_[0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), scale * pca.components_[0])
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), pca.mean_)
    assert ax.lines[0].get_label().startswith("PC1 (")
    _save(ax, tmp_path, "components")


def test_plot_components_from_array_and_clipping(tmp_path):
    x, M = _pca_data()
    V = EnsemblePCA(n_components=2).fit(M).components_
    ax = plot_components(x[::-1], V[:, ::-1], n_components=5, mean=np.zeros(40))
    assert len(ax.lines) == 3  # only 2 components exist, plus the mean
    np.testing.assert_allclose(ax.lines[0].get_xdata(), x)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), V[0])
    _save(ax, tmp_path, "components_array")


def test_plot_components_multi_output():
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(2), size=(6, 10))
    pca = EnsemblePCA(n_components=2).fit(P)
    x = np.arange(10)
    ax = plot_components(x, pca, output=1)
    assert len(ax.lines) == 2
    with pytest.raises(ValueError, match="output"):
        plot_components(x, pca)
    with pytest.raises(ValueError, match="output"):
        plot_components(x, pca, output=2)


def test_plot_components_bad_input():
    x, M = _pca_data()
    pca = EnsemblePCA(n_components=2).fit(M)
    with pytest.raises(ValueError, match="x has length"):
        plot_components(x[:-1], pca)
    with pytest.raises(ValueError, match="x has length"):
        plot_components(x, pca.components_[:, :-3])
    with pytest.raises(ValueError, match="mean has length"):
        plot_components(x, pca, mean=np.zeros(3))
    with pytest.raises(TypeError, match="mean=True"):
        plot_components(x, pca.components_, mean=True)
    with pytest.raises(ValueError, match="n_components"):
        plot_components(x, pca, n_components=0)
    with pytest.raises(NotFittedError):
        plot_components(x, EnsemblePCA())


# ----------------------------------------------------------------- plot_members
def test_plot_members_weighted(tmp_path):
    rng = np.random.default_rng(2)
    x = np.linspace(0, 1, 25)
    M = rng.normal(size=(80, 1)) * x + rng.normal(size=(80, 1))
    w = rng.random(80)
    ax = plot_members(x, M, weights=w, max_members=50)
    assert isinstance(ax, Axes)
    assert len(ax.lines) == 51
    mean_line = ax.lines[-1]
    np.testing.assert_allclose(mean_line.get_ydata(), np.average(M, axis=0, weights=w))
    assert mean_line.get_linewidth() > ax.lines[0].get_linewidth()
    # Drawn members are the heaviest, with opacity proportional to weight.
    shown = np.argsort(-w, kind="stable")[:50]
    alphas = np.array([line.get_alpha() for line in ax.lines[:-1]])
    np.testing.assert_allclose(alphas / alphas[0], w[shown] / w[shown[0]])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), M[shown[0]])
    _save(ax, tmp_path, "members")


def test_plot_members_uniform_all():
    x = np.linspace(0, 1, 5)
    M = np.arange(3)[:, None] + x
    ax = plot_members(x, M, max_members=None)
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), M.mean(axis=0))
    assert len({line.get_alpha() for line in ax.lines[:-1]}) == 1


def test_plot_members_bad_input():
    x = np.linspace(0, 1, 5)
    M = np.zeros((3, 5))
    with pytest.raises(ValueError, match="x has length"):
        plot_members(x[:4], M)
    with pytest.raises(ValueError, match="weights has length"):
        plot_members(x, M, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="non-negative"):
        plot_members(x, M, weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="positive sum"):
        plot_members(x, M, weights=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="2-D"):
        plot_members(x, np.zeros((3, 5, 2)))
    with pytest.raises(ValueError, match="max_members"):
        plot_members(x, M, max_members=0)


# ------------------------------------------------------------ optional extra
def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "skhyre\[plot\]"'):
        plot_learning_curve([0, 1], [0.5, 0.6])


def test_plot_members_with_several_features_draws_points_along_a_coordinate():
    import matplotlib.pyplot as plt

    from skhyre.plotting import plot_members

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    M = rng.normal(size=(5, 40))
    ax = plot_members(X, M, feature=1)
    assert ax.get_xlabel() == "x[:, 1]" and len(ax.lines) == 6
    assert all(line.get_linestyle() == "None" for line in ax.lines)  # no zig-zag
    np.testing.assert_array_equal(np.sort(ax.lines[0].get_xdata()), np.sort(X[:, 1]))
    plt.close(ax.figure)
    ax = plot_members(X, M)
    assert ax.get_xlabel() == "first principal component of x"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="out of range"):
        plot_members(X, M, feature=5)


def test_plot_weights_reads_an_estimators_history():
    import matplotlib.pyplot as plt

    from skhyre import HyReClassifier
    from skhyre.plotting import plot_weights

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] > 0).astype(int)
    clf = HyReClassifier(n_members=5, hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    clf.fit(X[:80], y[:80]).active_adapt(X[80:], y[80:], n_queries=4)
    ax = plot_weights(clf, top=3)
    assert len(ax.lines) == 3
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 1, 2, 3, 4])
    plt.close(ax.figure)
