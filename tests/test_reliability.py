"""Reliability: inputs at the edges of what the API promises (issue #24).

Each test pins a rule, not one input: seeds anywhere in NumPy's range, pools
whose chunks carry column names, exclusion lists with repeated indices.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skhyre import HyReRegressor

pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    # _regression's columns differ in scale on purpose (std 1, 10 and 100): the
    # InputScaleWarning it gets at fit, and the NoMemberFitsWarning of members that
    # learnt little from it in a few epochs, are tested in test_diagnostics.py
    pytest.mark.filterwarnings("ignore::skhyre.reweighting.InputScaleWarning"),
    pytest.mark.filterwarnings("ignore::skhyre.reweighting.NoMemberFitsWarning"),
]

SMALL = dict(n_members=4, hidden_layer_sizes=(8,), max_epochs=1, batch_size=64)


def _regression(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 100.0]
    return X, X @ [1.0, -0.1, 0.005]


# --------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("seed", [2**32 - 1, np.int64(2**32 - 3)], ids=["2**32-1", "int64"])
def test_seeds_at_the_top_of_numpys_range(seed):
    """A seed plus the number of adapted examples wraps modulo 2**32 (it overflowed)."""
    X, y = _regression()
    reg = HyReRegressor(random_state=seed, **SMALL).fit(X, y).adapt(X[:5], y[:5])
    derived = (int(seed) + 5) % 2**32
    for kw in (dict(criterion="random"), dict(sampling="power")):
        in_memory = reg.query(X, 3, **kw)
        assert_array_equal(reg.query(X, 3, pool_memory_budget=0, **kw), in_memory)
        chunks = [X[:25], X[25:]]
        assert_array_equal(reg.query(chunks, 3, pool_memory_budget=0, **kw), in_memory)
        # the seed derived from the estimator's is (random_state + n_adapt_samples_) mod 2**32
        assert_array_equal(reg.query(X, 3, random_state=derived, **kw), in_memory)
        for budget in (None, 0):
            picked = (
                HyReRegressor(random_state=seed, **SMALL)
                .fit(X, y)
                .adapt(X[:5], y[:5])
                .active_adapt(chunks, y, 2, pool_memory_budget=budget, **kw)
                .queried_indices_
            )
            assert len(set(picked.tolist())) == 2


def test_seeds_below_the_wrap_draw_as_before():
    """Seeds that worked before give the same draws: random_state + n_adapt_samples_."""
    X, y = _regression()
    reg = HyReRegressor(random_state=7, **SMALL).fit(X, y).adapt(X[:5], y[:5])
    for kw in (dict(criterion="random"), dict(sampling="power")):
        assert_array_equal(reg.query(X, 4, **kw), reg.query(X, 4, random_state=12, **kw))


def test_random_state_instances_and_top_seeds_in_query():
    X, y = _regression()
    reg = HyReRegressor(random_state=0, **SMALL).fit(X, y)
    for kw in (dict(criterion="random"), dict(sampling="power")):
        for seed in (2**32 - 1, np.int64(2**32 - 3)):
            ref = reg.query(X, 3, random_state=np.random.RandomState(seed), **kw)
            assert_array_equal(reg.query(X, 3, random_state=seed, **kw), ref)
            streamed = reg.query(
                [X[:25], X[25:]],
                3,
                random_state=np.random.RandomState(seed),
                pool_memory_budget=0,
                **kw,
            )
            assert_array_equal(streamed, ref)
    est = HyReRegressor(random_state=np.random.RandomState(2**32 - 1), **SMALL).fit(X, y)
    est.adapt(X[:5], y[:5])
    assert est.query(X, 3, criterion="random").shape == (3,)
    assert est.query([X[:25], X[25:]], 3, sampling="power", pool_memory_budget=0).shape == (3,)


# --------------------------------------------------------------------------- exclude
def test_exclude_index_lists_may_repeat_an_index():
    """[0, 0, 1] over 3 rows is an index list with a repeat, not a 0/1 mask."""
    X, y = _regression()
    reg = HyReRegressor(random_state=0, **SMALL).fit(X, y)
    pool = X[:3]
    for budget in (None, 0):
        picked = reg.query(pool, 1, exclude=[0, 0, 1], pool_memory_budget=budget)
        assert picked.tolist() == [2]
        assert_array_equal(picked, reg.query(pool, 1, exclude=[0, 1], pool_memory_budget=budget))
        # streamed from chunks too, where the pool size is known only after the pass
        chunks = [pool[:2], pool[2:]]
        assert reg.query(chunks, 1, exclude=[0, 0, 1], pool_memory_budget=0).tolist() == [2]
        assert reg.query(pool, 1, exclude=np.array([0, 0, 1], dtype=np.uint8)).tolist() == [2]
    picked = reg.active_adapt(pool, y[:3], 1, exclude=[1, 0, 1]).queried_indices_
    assert picked.tolist() == [2]
    # readings that agree are not ambiguous: rows 0 and 1 either way
    assert_array_equal(
        reg.query(X[:6], 4, exclude=[1, 1, 0, 0, 0, 0]), reg.query(X[:6], 4, exclude=[0, 1])
    )


def test_exclude_masks_given_as_integers_are_still_refused():
    X, y = _regression()
    reg = HyReRegressor(random_state=0, **SMALL).fit(X, y)
    pool = X[:6]
    labelled = np.array([0, 1, 0, 1, 0, 0])  # rows 1 and 3, as a 0/1 integer mask
    for budget in (None, 0):
        for p in (pool, [pool[:4], pool[4:]]):
            with pytest.raises(ValueError, match=r"looks like a 0/1 mask.*exclude.astype\(bool\)"):
                reg.query(p, 2, exclude=labelled, pool_memory_budget=budget)
        picked = reg.query(pool, 4, exclude=labelled.astype(bool), pool_memory_budget=budget)
        assert not {1, 3} & set(picked.tolist())
    with pytest.raises(ValueError, match="looks like a 0/1 mask"):
        reg.query(X[:4], 1, exclude=[0, 0, 0, 1])  # one labelled row, as integers
    with pytest.raises(ValueError, match="looks like a 0/1 mask"):
        reg.active_adapt(pool, y[:6], 1, exclude=labelled)
    # a true boolean mask of the 3-row pool: row 2 only
    assert reg.query(X[:3], 2, exclude=np.array([False, False, True])).tolist() in ([0, 1], [1, 0])


# --------------------------------------------------------------------------- pool column names
@pytest.fixture
def named():
    """A regressor fitted on a DataFrame whose columns differ in scale (order matters)."""
    pd = pytest.importorskip("pandas")
    X, y = _regression()
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    reg = HyReRegressor(random_state=0, **{**SMALL, "max_epochs": 3}).fit(df, y)
    return reg, df, y


def test_streamed_chunks_are_checked_against_fits_column_names(named):
    reg, df, y = named
    X = df.to_numpy()
    ref = reg.query(df.iloc[:50], 5)
    assert_array_equal(reg.query([df.iloc[:25], df.iloc[25:50]], 5, pool_memory_budget=0), ref)
    # an array chunk is read in fit's order, with scikit-learn's warning
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        mixed = reg.query([X[:25], df.iloc[25:50]], 5, pool_memory_budget=0)
    assert_array_equal(mixed, ref)
    reordered = df[["c", "b", "a"]].iloc[25:50]
    match = (
        r"(?s)Pool chunk 1 has the columns \['c', 'b', 'a'\], but HyReRegressor was fitted "
        r"on \['a', 'b', 'c'\].*feature names should match.*same order"
    )
    # mixed with arrays (stacked by position) or with DataFrames (aligned by name), one rule
    for first in (X[:25], df.iloc[:25]):
        for kw in (dict(), dict(criterion="random"), dict(sampling="power")):
            with pytest.raises(ValueError, match=match):
                reg.query([first, reordered], 5, pool_memory_budget=0, **kw)
    with pytest.raises(ValueError, match=match):
        reg.query(lambda: iter([X[:25], reordered]), 5, pool_memory_budget=0)
    renamed = df.iloc[25:50].rename(columns={"a": "z"})
    with pytest.raises(ValueError, match=r"(?s)Pool chunk 1 .*unseen at fit time:\n- z"):
        reg.query([X[:25], renamed], 5, pool_memory_budget=0)
    # active_adapt: refused, and the weights are left as they were
    before = reg.weights_.copy()
    with pytest.raises(ValueError, match=match):
        reg.active_adapt([X[:25], reordered], y[:50], 2, pool_memory_budget=0)
    assert_array_equal(reg.weights_, before)
    # a whole DataFrame pool, streamed, is refused as it is in memory (random too)
    for kw in (dict(), dict(criterion="random")):
        with pytest.raises(ValueError, match="feature names should match"):
            reg.query(df[["c", "b", "a"]].iloc[:50], 5, pool_memory_budget=0, **kw)
        with pytest.raises(ValueError, match="feature names should match"):
            reg.query(df[["c", "b", "a"]].iloc[:50], 5, **kw)


def test_a_dask_dataframe_is_not_a_pool(named):
    pytest.importorskip("dask.dataframe")
    import dask.dataframe as dd

    reg, df, y = named
    for columns in (["a", "b", "c"], ["c", "b", "a"]):
        ddf = dd.from_pandas(df[columns].iloc[:50], npartitions=2)
        for budget in (None, 0):
            with pytest.raises(TypeError, match=r"Dask DataFrame.*to_dask_array"):
                reg.query(ddf, 5, pool_memory_budget=budget)
            with pytest.raises(TypeError, match=r"Dask DataFrame.*to_dask_array"):
                reg.active_adapt(ddf, y[:50], 2, pool_memory_budget=budget)
    pool = dd.from_pandas(df.iloc[:50], npartitions=2).to_dask_array(lengths=True)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        assert_array_equal(reg.query(pool, 5, pool_memory_budget=0), reg.query(df.iloc[:50], 5))
