"""Settings of the preference study: run sizes, embedding blocks, method names.

Shared by the study (:mod:`skhyre.studies.preferences`), its runs and its
report. Imports nothing of skhyre.
"""

from __future__ import annotations

#: to 256; 128 keeps the opening of every answer, where its style shows, at
#: half the cost on a CPU).
DEFAULT_MAX_SEQ_LENGTH = 128
#: Prompts (DSP) and pairs (HH) per embedding call: one cache entry each, so a
#: quick run (the first blocks) reuses the full run's embeddings and vice versa.
DSP_BLOCK = 50
HH_BLOCK = 250

#: The full study (about ten minutes on 2 CPU cores once embeddings are cached).
FULL: dict = {
    "dsp_prompts": None,  # all 661
    "hh_pairs": 1000,  # first pairs of each HH file
    "seeds": (0, 1, 2),
    "n_labels": (1, 5, 10, 20, 40),
    "n_repeats": 5,  # random adaptation draws per seed, group and N
    "n_active_repeats": 2,  # BALD runs per seed and group (70% pool subsamples)
    "split": (0.5, 0.2, 0.3),  # train / adaptation pool / test, by prompt
    "model": {
        "n_members": 100,
        "hidden_layer_sizes": (64,),
        "prior_scale": 1.0,
        "max_epochs": 30,
        "batch_size": 256,
        "lr": 3e-3,
        "weight_decay": 0.0,
        "temperature": 1.0,
    },
}
#: A smaller, faster study (a few minutes, embeddings included once cached).
QUICK: dict = {
    **FULL,
    "dsp_prompts": 200,
    "hh_pairs": 500,
    "seeds": (0,),
    "n_labels": (1, 5, 20),
    "n_repeats": 3,
    "n_active_repeats": 1,
    "model": {**FULL["model"], "n_members": 50, "max_epochs": 15},
}

#: Display names of the methods, in table order.
HYRE_RANDOM = "HyRe (random)"
HYRE_BALD = "HyRe (BALD)"
SINGLE_RM = "single RM (aggregate)"
GROUP_ONLY = "group-only RM (upper bound)"
BASELINE_NAMES = {
    "uniform": "uniform ensemble",
    "single_model": "best member on train",
    "logit_average": "logit average",
    "majority_vote": "majority vote",
    "entropy_weighted": "entropy-weighted",
    "confidence_weighted": "confidence-weighted",
    "convex": "convex weights (N pairs)",
    "oracle": "best member (oracle)",
}
