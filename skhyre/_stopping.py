"""Early stopping on an internal validation split, for the torch estimators.

With ``early_stopping=True`` (the regressor's and classifier's default) a
fit holds out ``validation_fraction`` of its rows (unless the user gave a
``train_split``), scores the members' summed training loss on them after
every epoch, stops once it has not improved by a relative ``tol`` for
``n_iter_no_change`` epochs, and restores the network of the best epoch:
what scikit-learn's ``MLPRegressor(early_stopping=True)`` does, with
``max_epochs`` as the cap. The callback is skorch's
:class:`~skorch.callbacks.EarlyStopping`, registered under
:data:`CALLBACK_NAME`.
"""

from __future__ import annotations

from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

#: the name of the estimators' early-stopping callback in ``net_.callbacks_``
CALLBACK_NAME = "hyre_early_stopping"


def check_split_rows(n_rows: int, est) -> None:
    """A clear error where the internal split would leave nothing to train or score on."""
    n_valid = -(-n_rows * est.validation_fraction // 1)  # ceil, as ShuffleSplit rounds
    if est.early_stopping and est.train_split is None and (n_rows < 2 or n_valid >= n_rows):
        raise ValueError(
            f"early_stopping=True holds out validation_fraction={est.validation_fraction} of "
            f"the rows to decide when to stop, which leaves no rows to train on with "
            f"{n_rows} row(s). Pass more rows, a smaller validation_fraction, or "
            "early_stopping=False."
        )


def stopping_setup(est, callbacks, seed: int):
    """``(callbacks, train_split)`` for a net trained by ``est``.

    ``callbacks`` is the user's list (already cloned, or ``None``). With
    ``est.early_stopping`` the early-stopping callback is appended and, when
    ``est.train_split`` is ``None``, the internal split (seeded by ``seed``)
    is used; otherwise both are the user's.
    """
    split = est.train_split
    if not est.early_stopping:
        return callbacks, split
    if split is None:
        split = ValidSplit(est.validation_fraction, stratified=False, random_state=seed)
    stopper = EarlyStopping(
        monitor="valid_loss",
        patience=est.n_iter_no_change,
        threshold=est.tol,
        threshold_mode="rel",
        load_best=True,
    )
    return [*(callbacks or []), (CALLBACK_NAME, stopper)], split


def is_stopper(callback) -> bool:
    """Whether ``callback`` (an entry of ``net.callbacks``) is the estimators' stopper."""
    return isinstance(callback, tuple) and callback[0] == CALLBACK_NAME


def has_stopper(net) -> bool:
    """Whether ``net`` was built with the estimators' early-stopping callback."""
    return any(is_stopper(cb) for cb in net.callbacks or [])
