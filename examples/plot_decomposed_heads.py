"""
=======================================================
Personalization without annotator ids: decomposed heads
=======================================================

Nobody recorded who labelled which pair. Four groups of users weigh four
latent attributes of a response differently; the pooled pairs mix them.
A Shared-Base reward ensemble trained on the pool learns the average user,
and HyRe has nothing to pick from. ``ensemble="decomposed"`` builds its
members in closed form from the same pooled pairs: the pooled logistic head
and the principal directions of ``phi(chosen) - phi(rejected)``, each signed
and scaled by a one-dimensional Bradley-Terry fit. HyRe then picks, for each
group, the heads that order that group's pairs, from a few BALD-chosen
labels. The same Shared-Base ensemble trained *with* the group ids
(``training="by_group"``) shows what the ids are worth: on this generator the
decomposed heads recover only a small part of that gap (a principal
direction mixes the attributes, so no single head is a group's taste), as
``benchmarks/results/decomposed_personalization.md`` measures over seeds.
"""

# %%
# Pooled pairs from four groups
# -----------------------------
import matplotlib.pyplot as plt
import numpy as np

from skhyre import HyReRewardModel

rng = np.random.default_rng(0)
dim, n_attr = 24, 4
M = rng.normal(size=(dim, n_attr)) * [2.0, 1.5, 1.2, 1.0]  # anisotropic embeddings
tastes = np.eye(n_attr) + 0.2  # group g cares mostly for attribute g


def pairs(group, n):
    a, b = rng.normal(size=(n, n_attr)), rng.normal(size=(n, n_attr))
    X = np.hstack([a @ M.T, b @ M.T]) + 0.5 * rng.normal(size=(n, 2 * dim))
    y = ((a - b) @ tastes[group] + 0.3 * rng.logistic(size=n) > 0).astype(int)
    return X, y


train = [pairs(g, 500) for g in range(4)]
X_train = np.vstack([X for X, _ in train])  # no group ids
y_train = np.concatenate([y for _, y in train])
pools = [pairs(g, 300) for g in range(4)]
tests = [pairs(g, 1000) for g in range(4)]

decomposed = HyReRewardModel(ensemble="decomposed", n_members=5).fit(X_train, y_train)
settings = dict(n_members=30, hidden_layer_sizes=(32,), max_epochs=15, lr=3e-3, random_state=0)
pooled = HyReRewardModel(**settings).fit(X_train, y_train)
ids = np.repeat(np.arange(4), 500)  # only the reference may use them
by_group = HyReRewardModel(training="by_group", **settings).fit(X_train, y_train, groups=ids)

# %%
# Personalize to each group from N BALD-chosen pairs
# --------------------------------------------------
n_labels = [1, 2, 5, 10, 20]
curves = {}
models = {
    "decomposed heads (no ids)": decomposed,
    "Shared-Base, pooled (no ids)": pooled,
    "Shared-Base, by_group (ids)": by_group,
}
for name, model in models.items():
    acc = np.zeros(len(n_labels))
    for (Xp, yp), (Xt, yt) in zip(pools, tests, strict=True):
        model.reset_weights().active_adapt(Xp, oracle=yp, n_queries=max(n_labels))
        order = model.queried_indices_
        for i, n in enumerate(n_labels):
            acc[i] += model.adapt(Xp[order[:n]], yp[order[:n]]).score(Xt, yt) / len(tests)
        model.reset_weights()
    curves[name] = acc
    print(name, np.round(acc, 3))

# %%
# The heads, and what a few labels buy
# ------------------------------------
info = decomposed.decomposition_
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.bar(np.arange(1, info.components.shape[0] + 1), 100 * info.explained_variance_ratio)
ax1.set(
    xlabel="principal direction",
    ylabel="variance of the pooled differences (%)",
    title="decomposed heads",
)
for name, acc in curves.items():
    ax2.plot(n_labels, acc, marker="o", label=name)
ax2.set(
    xscale="log",
    xlabel="labels from the group (BALD)",
    ylabel="pairwise accuracy",
    title="HyRe after pooled training",
)
ax2.legend()
fig.tight_layout()
plt.show()
