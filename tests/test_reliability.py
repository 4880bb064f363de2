"""Reliability: inputs at the edges of what the API promises (issue #24).

Each test pins a rule, not one input: seeds anywhere in NumPy's range, pools
whose chunks carry column names, exclusion lists with repeated indices.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from skhyre import HyReRegressor

pytestmark = pytest.mark.usefixtures("one_torch_thread")

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
