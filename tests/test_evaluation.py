import numpy as np
import pytest
from conftest import fast

from skhyre import HyReClassifier, HyReRegressor
from skhyre.datasets import make_preference_labelers
from skhyre.evaluation import adaptation_curve, leave_one_group_out

TINY = fast(n_members=6, max_epochs=3)


@pytest.fixture(scope="module")
def data():
    return make_preference_labelers(
        n_samples=400, n_labelers=4, n_test_labelers=1, n_test_samples=100, random_state=0
    )


def test_adaptation_curve_random_and_active(data):
    clf = HyReClassifier(**TINY).fit(data.X, data.y, groups=data.groups)
    Xp, yp = data.X_test, data.y_test[0]
    res = adaptation_curve(clf, Xp, yp, n_labels=(1, 5), n_repeats=3, random_state=0)
    assert res.scores.shape == res.uniform.shape == (3, 2)
    assert np.all((res.scores >= 0) & (res.scores <= 1))
    np.testing.assert_allclose(res.mean, res.scores.mean(axis=0))
    np.testing.assert_allclose(clf.weights_, 1 / 6)  # left reset
    act = adaptation_curve(clf, Xp, yp, n_labels=(5,), criterion="bald", random_state=0)
    assert act.scores.shape == (1, 1)


def test_adaptation_curve_with_test_set_and_errors(data):
    reg = HyReRegressor(**TINY).fit(data.X, data.X[:, 0])
    X, y = data.X_test, data.X_test[:, 0]
    res = adaptation_curve(
        reg, X[:50], y[:50], n_labels=(2,), X_test=X[50:], y_test=y[50:], criterion="variance"
    )
    # uniform scored on the same rows: equals the reset model's score
    assert res.uniform[0, 0] == pytest.approx(reg.score(X[50:], y[50:]))
    with pytest.raises(ValueError, match="larger than the pool"):
        adaptation_curve(reg, X[:5], y[:5], n_labels=(10,))
    with pytest.raises(ValueError, match="both X_test and y_test"):
        adaptation_curve(reg, X, y, n_labels=(1,), X_test=X)
    with pytest.raises(ValueError, match="positive"):
        adaptation_curve(reg, X, y, n_labels=(0,))


def test_adaptation_curve_checks_inputs_before_adapting(data):
    reg = HyReRegressor(**TINY).fit(data.X, data.X[:, 0])
    X, y = data.X_test[:10], data.X_test[:10, 0]
    with pytest.raises(ValueError, match="leaves nothing to score"):
        adaptation_curve(reg, X, y, n_labels=(10,))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        adaptation_curve(reg, X, y[:8], n_labels=(2,))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        adaptation_curve(reg, X, y, n_labels=(2,), X_test=X, y_test=y[:3])
    for bad in ((2.7,), (True,), (), ("3",)):
        with pytest.raises(ValueError, match="n_labels must be positive integers"):
            adaptation_curve(reg, X, y, n_labels=bad)
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="n_repeats must be a positive integer"):
            adaptation_curve(reg, X, y, n_labels=(2,), n_repeats=bad)
    assert reg.n_adapt_samples_ == 0
    # with a test set the whole pool may be labelled
    res = adaptation_curve(reg, X, y, n_labels=(10,), X_test=data.X[:20], y_test=data.X[:20, 0])
    assert res.scores.shape == (1, 1)
    assert reg.n_adapt_samples_ == 0


def test_adaptation_curve_resets_even_when_scoring_fails(data):
    class Boom(HyReRegressor):
        def score(self, X, y, sample_weight=None):
            raise RuntimeError("boom")

    reg = Boom(**TINY).fit(data.X, data.X[:, 0])
    with pytest.raises(RuntimeError, match="boom"):
        adaptation_curve(reg, data.X_test, data.X_test[:, 0], n_labels=(3,))
    assert reg.n_adapt_samples_ == 0
    np.testing.assert_allclose(reg.weights_, 1 / 6)


def test_leave_one_group_out_with_models_that_take_no_groups(data):
    from sklearn.linear_model import LogisticRegression

    from skhyre import HyReEnsemble

    ens = HyReEnsemble([(f"lr{c}", LogisticRegression(C=c)) for c in (0.01, 1.0, 100.0)])
    res = leave_one_group_out(ens, data.X, data.y, data.groups, n_labels=(1, 3), n_repeats=1)
    assert res.scores.shape == (4, 1, 2)
    with pytest.raises(ValueError, match="takes no groups parameter"):
        leave_one_group_out(ens, data.X, data.y, data.groups, fit_groups=True)
    with pytest.raises(ValueError, match="fit_groups must be"):
        leave_one_group_out(ens, data.X, data.y, data.groups, fit_groups="yes")
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        leave_one_group_out(ens, data.X, data.y[:10], data.groups)


def test_leave_one_group_out(data):
    res = leave_one_group_out(
        HyReClassifier(**TINY),
        data.X,
        data.y,
        data.groups,
        n_labels=(1, 5),
        n_repeats=2,
        random_state=0,
    )
    assert list(res.groups) == [0, 1, 2, 3]
    assert res.scores.shape == (4, 2, 2)
    pooled = leave_one_group_out(
        HyReClassifier(**TINY),
        data.X,
        data.y,
        data.groups,
        n_labels=(1,),
        n_repeats=1,
        fit_groups=False,
    )
    assert pooled.scores.shape == (4, 1, 1)
    with pytest.raises(ValueError, match="at least 2"):
        leave_one_group_out(HyReClassifier(**TINY), data.X, data.y, np.zeros(400))
    with pytest.raises(ValueError, match="groups must have shape"):
        leave_one_group_out(HyReClassifier(**TINY), data.X, data.y, data.groups[:3])


def test_dataframes_and_sparse_matrices_pass_through_unchanged():
    # members that pick DataFrame columns by name, and a sparse pool: rows are
    # taken with sklearn's _safe_indexing, never through np.asarray
    pd = pytest.importorskip("pandas")
    sp = pytest.importorskip("scipy.sparse")
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LinearRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from skhyre import HyReEnsemble

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"num": rng.normal(size=60), "cat": rng.choice(["a", "b", "c"], size=60)})
    y = (2 * df.num + (df.cat == "a")).to_numpy()

    def by_name(model):
        return make_pipeline(
            make_column_transformer((OneHotEncoder(), ["cat"]), remainder="passthrough"), model
        )

    members = [("lr", by_name(LinearRegression())), ("ridge", by_name(Ridge(alpha=10.0)))]
    res = adaptation_curve(HyReEnsemble(members).fit(df, y), df, y, n_labels=(3,), random_state=0)
    assert np.isfinite(res.scores).all()
    groups = np.arange(60) % 3
    logo = leave_one_group_out(HyReEnsemble(members), df, y, groups, n_labels=(3,), n_repeats=1)
    assert logo.scores.shape == (3, 1, 1)
    X = sp.csr_matrix(rng.normal(size=(60, 3)))
    sparse = HyReEnsemble([("lr", LinearRegression()), ("ridge", Ridge())]).fit(X, y)
    res = adaptation_curve(sparse, X, y, n_labels=(3,), criterion="variance", random_state=0)
    assert np.isfinite(res.scores).all()


def test_power_sampling_repeats_draw_anew(data):
    reg = HyReRegressor(**TINY).fit(data.X, data.X[:, 0] + data.X[:, 1] ** 2)
    X, y = data.X_test, data.X_test[:, 0] + data.X_test[:, 1] ** 2
    kw = dict(n_labels=(4,), n_repeats=4, criterion="variance", random_state=0)
    top = adaptation_curve(reg, X, y, **kw)
    assert np.ptp(top.scores) == 0  # deterministic given the weights
    drawn = adaptation_curve(reg, X, y, sampling="power", **kw)
    assert np.ptp(drawn.scores) > 0
    again = adaptation_curve(reg, X, y, sampling="power", **kw)
    np.testing.assert_array_equal(drawn.scores, again.scores)  # reproducible
    with pytest.raises(ValueError, match="sampling='Power' is not valid"):
        adaptation_curve(reg, X, y, sampling="Power", **kw)
    groups = np.repeat([0, 1], [50, 50])
    with pytest.raises(ValueError, match="sampling=None is not valid"):
        leave_one_group_out(reg, X, y, groups, sampling=None)
    res = leave_one_group_out(
        reg,
        X,
        y,
        groups,
        n_labels=(3,),
        n_repeats=2,
        criterion="variance",
        sampling="power",
        fit_groups=False,
    )
    assert res.scores.shape == (2, 2, 1)
