"""
==========================================
Many boundaries fit the data: pick the one
==========================================

The shifted binary task of the HyRe paper
(:func:`~skhyre.datasets.make_shifted_binary`): the training classes are two
tight, well separated blobs, so *every* line between them fits the training
data -- the orientation of the boundary is left open. The target task is
labelled by one particular line over a wide square.

A diverse ensemble holds many candidate boundaries. A handful of labels,
chosen actively (BALD), are enough to find the members that agree with the
target.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skhyre import HyReClassifier
from skhyre.datasets import make_shifted_binary

data = make_shifted_binary(n_samples=200, n_target=1000, random_state=3)
clf = HyReClassifier(
    n_members=30, hidden_layer_sizes=(32,), prior_scale=3.0, max_epochs=30, random_state=0
).fit(data.X, data.y)
print(
    f"training accuracy {clf.score(data.X, data.y):.2f}, "
    f"target accuracy of the uniform ensemble {clf.score(data.X_target, data.y_target):.2f}"
)

member_acc = (clf.predict_members(data.X_target).argmax(-1) == data.y_target).mean(axis=1)
print(f"target accuracy of the members: from {member_acc.min():.2f} to {member_acc.max():.2f}")

# %%
# Eight labels, chosen one at a time
# ----------------------------------
# ``active_adapt`` scores the pool by BALD under the current weights, asks the
# oracle (here: the known labels) for the best example, updates the weights,
# and repeats.
clf.active_adapt(data.X_target, oracle=data.y_target, n_queries=8)
picked = clf.queried_indices_
rest = np.setdiff1d(np.arange(data.y_target.size), picked)
print(
    f"after 8 BALD labels: target accuracy {clf.score(data.X_target[rest], data.y_target[rest]):.2f}"
)

# %%
# Member boundaries before, weighted boundary after
# -------------------------------------------------
h = np.abs(data.X_target).max()
g = np.linspace(-h, h, 150)
xx, yy = np.meshgrid(g, g)
grid = np.column_stack([xx.ravel(), yy.ravel()])
P1 = clf.predict_members(grid)[..., 1].reshape(-1, *xx.shape)  # (K, 150, 150)
b = data.boundary
line_x = np.array([-h, h])


def target_line(ax):
    # the target boundary: coef[0] * x + coef[1] * y + intercept = 0
    ax.plot(
        line_x,
        -(b.coef[0] * line_x + b.intercept) / b.coef[1],
        "k--",
        lw=2,
        label="target boundary",
    )


fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
ax = axes[0]
for k in range(clf.n_members):
    ax.contour(xx, yy, P1[k], levels=[0.5], colors="C0", alpha=0.35, linewidths=1)
ax.scatter(*data.X[data.y == 0].T, s=8, c="C3", label="training class 0")
ax.scatter(*data.X[data.y == 1].T, s=8, c="C2", label="training class 1")
target_line(ax)
ax.set_title("30 members (blue): all fit the training blobs")
ax.legend(loc="lower left", fontsize="small")

ax = axes[1]
weighted = np.tensordot(clf.weights_, P1, axes=1)
ax.contourf(xx, yy, weighted, levels=np.linspace(0, 1, 11), cmap="RdYlGn", alpha=0.6)
ax.contour(xx, yy, weighted, levels=[0.5], colors="C0", linewidths=2)
yq = data.y_target[picked]
ax.scatter(
    *data.X_target[picked].T,
    c=np.where(yq == 1, "C2", "C3"),
    edgecolors="k",
    s=60,
    label="8 BALD labels",
)
target_line(ax)
ax.set_ylim(-h, h)
ax.set_title("HyRe-weighted ensemble after 8 labels")
ax.legend(loc="lower left", fontsize="small")
fig.tight_layout()

# %%
# The labels land where members disagree -- near the candidate boundaries,
# away from the training blobs -- and the weighted boundary turns towards the
# target one. :ref:`sphx_glr_auto_examples_plot_active_vs_random.py`
# measures how much active choice saves over random labels.
