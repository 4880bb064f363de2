"""
=================================
Function-space PCA of an ensemble
=================================

The differences between ensemble members are a picture of what the training
data leave open. Here the truth is a smooth random function (a draw from a
Gaussian-process prior, :func:`~skhyre.datasets.make_gp_functions`),
observed in four small clusters. A Shared-Base ensemble fits the
observations; between and beyond the clusters its members go their own ways.

:class:`~skhyre.decomposition.EnsemblePCA` treats each member's predictions
on a grid as one sample of a function and finds the *principal functions*:
the directions in which the members vary most. As in the HyRe paper, they
are local bumps where the data are silent, and a handful of them describe
almost all of the ensemble's variation. HyRe's reweighting moves the
ensemble's prediction within the span of the members, that is, along these
directions.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skhyre import HyReRegressor
from skhyre.datasets import make_gp_functions
from skhyre.decomposition import EnsemblePCA
from skhyre.plotting import plot_components

gp = make_gp_functions(n_functions=1, n_points=200, length_scale=0.35, random_state=1)
x = 3 * gp.x  # inputs on [-3, 3]
f = gp.F[0]
rng = np.random.default_rng(0)
centres = np.array([-2.85, -1.5, 0.0, 1.2])
train = np.flatnonzero(np.min(np.abs(x[:, None] - centres), axis=1) < 0.18)
X_train = x[train, None]
y_train = f[train] + 0.05 * rng.normal(size=train.size)

reg = HyReRegressor(
    n_members=60,
    hidden_layer_sizes=(64, 64),
    prior_scale=3.0,
    batch_size=32,
    lr=3e-3,
    max_epochs=400,
    random_state=0,
).fit(X_train, y_train)
X_grid = x[:, None]
M = reg.predict_members(X_grid)  # (60, 200): one row per member function

# %%
# The principal functions of the members
# --------------------------------------
pca = EnsemblePCA(n_components=10).fit(M)  # or EnsemblePCA().fit_estimator(reg, X_grid)
print("variance explained by the first 10 components:", np.round(pca.explained_variance_ratio_, 3))
Z = pca.transform(M)  # each member's coordinates along the components
print("member coordinates:", Z.shape)

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
ax = axes[0]
ax.plot(x, M.T, color="C0", alpha=0.25, linewidth=0.8)
ax.plot(x, M.mean(axis=0), color="k", linewidth=2, label="uniform mean")
ax.plot(x, f, "k:", label="truth")
ax.scatter(X_train[:, 0], y_train, s=10, c="C3", zorder=3, label="training data")
ax.legend(fontsize="small")
ax.set_title("60 members")

ax = axes[1]
plot_components(x, pca, n_components=3, ax=ax)
for c in centres:
    ax.axvspan(c - 0.18, c + 0.18, color="C3", alpha=0.15, linewidth=0)
ax.set_title("Leading principal functions (red: training x)")

ax = axes[2]
k = np.arange(1, pca.n_components_ + 1)
ax.bar(k, pca.explained_variance_ratio_, color="C0", label="per component")
ax.plot(k, np.cumsum(pca.explained_variance_ratio_), "o-", color="C1", label="cumulative")
ax.set_xticks(k)
ax.set_xlabel("component")
ax.set_ylabel("fraction of the members' variance")
ax.legend(fontsize="small")
ax.set_title("A few directions describe the ensemble")
fig.tight_layout()

# %%
# The members agree on the training clusters (the principal functions are
# close to zero there) and vary beyond the data and in the gaps: the first
# component is the spread of the extrapolation to the right of the last
# cluster, the next ones are bumps between clusters. ``pca.reconstruct(M, n_components)``
# rebuilds the members from the leading components alone; the member
# coordinates ``Z`` can be used to cluster or to inspect hypotheses.
