"""
===============================================
Conflicting labelers: train members per labeler
===============================================

A toy version of preference personalization: 40 labelers, each a random
line through the origin, label 2-D points; each training point is labelled
by one of them (its id is known), so the pooled labels are a mixture of
conflicting views. At test time a *new* labeler, never seen in training,
gives a few labels, and the model must adapt to them.

We compare two ways to train the same ensemble:

- ``training="pooled"``: every member learns from every label and drifts to
  the average labeler;
- ``training="by_group"`` (``fit(X, y, groups=labeler_ids)``): members are
  split among the labelers, so each stays sharp and together they cover the
  range of views.

and, as a baseline without any ensemble, a logistic regression fitted on the
new labeler's few labels alone.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from skhyre import HyReClassifier
from skhyre.datasets import make_preference_labelers
from skhyre.plotting import plot_learning_curve

data = make_preference_labelers(
    n_samples=2000, n_labelers=40, n_test_labelers=10, n_test_samples=400, random_state=0
)
params = dict(
    n_members=40, hidden_layer_sizes=(32, 32), prior_scale=1.0, max_epochs=25, random_state=0
)
models = {
    "pooled": HyReClassifier(training="pooled", **params).fit(data.X, data.y),
    "by_group": HyReClassifier(**params).fit(data.X, data.y, groups=data.groups),
}
for name, clf in models.items():
    conf = np.abs(2 * clf.predict_members(data.X_test)[..., 1] - 1).mean()
    print(f"{name:>8}: members' mean confidence |2p - 1| = {conf:.2f}")

# %%
# Adapt to each unseen labeler from N of its labels
# -------------------------------------------------
n_labels = np.array([1, 2, 5, 10, 20])
n_test = data.X_test.shape[0]


def logistic_on(X, y, X_eval):
    if np.unique(y).size < 2:  # one class seen: predict it everywhere
        return np.full(X_eval.shape[0], y[0])
    return LogisticRegression().fit(X, y).predict(X_eval)


acc = {
    key: np.zeros((len(data.y_test), n_labels.size))
    for key in ["pooled, random", "by_group, random", "by_group, BALD", "logistic regression"]
}
for j, y_new in enumerate(data.y_test):
    rng = np.random.default_rng(j)
    for c, n in enumerate(n_labels):
        idx = rng.choice(n_test, size=n, replace=False)
        rest = np.setdiff1d(np.arange(n_test), idx)
        for name, clf in models.items():
            clf.adapt(data.X_test[idx], y_new[idx])
            acc[f"{name}, random"][j, c] = clf.score(data.X_test[rest], y_new[rest])
        pred = logistic_on(data.X_test[idx], y_new[idx], data.X_test[rest])
        acc["logistic regression"][j, c] = np.mean(pred == y_new[rest])
        by_group = models["by_group"].reset_weights()
        by_group.active_adapt(data.X_test, oracle=y_new, n_queries=n)
        rest = np.setdiff1d(np.arange(n_test), by_group.queried_indices_)
        acc["by_group, BALD"][j, c] = by_group.score(data.X_test[rest], y_new[rest])

uniform = {
    name: np.mean([clf.reset_weights().score(data.X_test, y) for y in data.y_test])
    for name, clf in models.items()
}
for key, a in acc.items():
    print(f"{key:>20}: " + "  ".join(f"{m:.2f}" for m in a.mean(axis=0)))
print("uniform ensembles:", {k: round(float(v), 2) for k, v in uniform.items()})

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
for key, a in acc.items():
    plot_learning_curve(
        n_labels, a.mean(axis=0), ax=ax1, label=key, std=a.std(axis=0) / np.sqrt(len(a))
    )
ax1.axhline(uniform["by_group"], color="0.3", linestyle="--", label="uniform ensemble")
ax1.set_xscale("log")
ax1.set_xticks(n_labels, [str(n) for n in n_labels])
ax1.set_ylabel("accuracy on the new labeler")
ax1.legend(fontsize="small")
ax1.set_title("Unseen labelers (mean and s.e. over 10)")

# The members' decision boundaries (p = 0.5 contours) over the input square.
g = np.linspace(-2.5, 2.5, 101)
xx, yy = np.meshgrid(g, g)
grid = np.column_stack([xx.ravel(), yy.ravel()])
for name, color in (("pooled", "C0"), ("by_group", "C1")):
    P1 = models[name].predict_members(grid)[:12, :, 1]
    for k in range(P1.shape[0]):
        ax2.contour(
            xx, yy, P1[k].reshape(xx.shape), levels=[0.5], colors=color, linewidths=1, alpha=0.7
        )
    ax2.plot([], [], color=color, label=f"{name} members")
ax2.set_aspect("equal")
ax2.legend(fontsize="small", loc="lower left")
ax2.set_title("12 members' boundaries")
fig.tight_layout()

# %%
# Trained per labeler, the members are sharp and point in many directions;
# HyRe finds the ones that match the new labeler from a few labels, and
# BALD picks the labels that separate the candidates fastest. Trained on the
# pooled labels, the members all look alike and the few labels have nothing
# to choose from. The logistic regression, which uses no training data at
# all, catches up as labels accumulate: reweighting shines in the low-label
# regime.
