"""Texts to features: :class:`SentenceEmbedder`, over sentence-transformers.

The reward model (:class:`~skhyre.HyReRewardModel`) works on numeric pair
rows; this transformer turns responses, or pairs of responses, into sentence
embeddings, so a preference pipeline reads raw text::

    make_pipeline(SentenceEmbedder(), HyReRewardModel())   # X: (n, 2) text pairs

sentence-transformers is an optional dependency (``pip install
"skhyre[text]"``), imported only when a model is loaded by name or path.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["SentenceEmbedder"]

_AUTO_PROGRESS_MIN_TEXTS = 256
_INSTALL_HINT = 'pip install "skhyre[text]"'


def load_sentence_transformer(name: str, device: str):
    """Load a SentenceTransformer by hub name or local path (lazy import)."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImportError(
            "SentenceEmbedder needs the optional dependency sentence-transformers to load "
            f"the model {name!r}; install it with: {_INSTALL_HINT}"
        ) from exc
    return SentenceTransformer(name, device=device)


def _resolve_device(device: str) -> str:
    from ._net import resolve_device

    return str(resolve_device(device))


def _as_texts(X) -> tuple[np.ndarray, int, list[str] | None]:
    """Texts ``(n,)`` or ``(n, 1)``, or pairs ``(n, 2)`` -> (flat object array, columns, names).

    The flat array lists each row's texts in order (A then B for pairs).
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "SentenceEmbedder expects a sequence of texts (or an (n, 2) array of text "
            "pairs), got a single string; wrap it in a list: [text]."
        )
    names = None
    columns = getattr(X, "columns", None)
    if columns is not None and all(isinstance(c, str) for c in columns):
        names = [str(c) for c in columns]
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 1:
        n_cols = 1
    elif arr.ndim == 2 and arr.shape[1] in (1, 2):
        n_cols = arr.shape[1]
    else:
        raise ValueError(
            "SentenceEmbedder expects texts of shape (n,) or (n, 1), or text pairs of shape "
            f"(n, 2) (response A, response B); got an array of shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError("SentenceEmbedder got 0 texts; at least one is required.")
    flat = arr.reshape(-1)
    not_text = [i for i, t in enumerate(flat) if not isinstance(t, str)]
    if not_text:
        i = not_text[0]
        where = f"row {i // n_cols}" + (f", column {i % n_cols}" if n_cols > 1 else "")
        raise TypeError(
            f"SentenceEmbedder expects str texts; {len(not_text)} entries are not, the first "
            f"at {where}: {flat[i]!r} of type {type(flat[i]).__name__}."
        )
    return flat, n_cols, names


def _describe_columns(n_cols: int) -> str:
    return "1 text column (texts)" if n_cols == 1 else f"{n_cols} text columns (text pairs)"


def _fingerprint(model) -> str:
    """A content hash of a model: its class, configuration and weights.

    Two models with the same fingerprint embed texts identically, so it keys
    the embedding cache across processes (an ``id`` would not).
    """
    h = hashlib.sha256()
    h.update(f"{type(model).__module__}.{type(model).__qualname__}".encode())
    state_dict = getattr(model, "state_dict", None)
    if callable(state_dict):  # a torch module: its repr lists the configuration
        h.update(repr(model).encode())
        for attr in ("max_seq_length", "truncate_dim"):
            h.update(f"{attr}={getattr(model, attr, None)!r}".encode())
        for name, tensor in sorted(state_dict().items()):
            t = tensor.detach().to("cpu").contiguous().reshape(-1)
            h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        return h.hexdigest()
    import joblib

    try:
        return joblib.hash((h.hexdigest(), model))
    except Exception as exc:  # pragma: no cover - depends on the object
        raise TypeError(
            f"cache_dir needs a model whose weights can be fingerprinted (a torch module or a "
            f"picklable object); {type(model).__name__} cannot: {exc}"
        ) from exc


def _weights_token(model) -> tuple | None:
    """Which weight tensors a torch model holds, where, how often each was changed in place.

    Every in-place write to a tensor (an optimizer step, ``add_``,
    ``load_state_dict``) bumps its version counter, and replacing a tensor's
    data (``param.data = ...``) moves its storage, so an unchanged token (with
    the same ``repr``, ``max_seq_length`` and ``truncate_dim``, which the
    fingerprint also covers) means the fingerprint can be reused. ``None`` for
    a model that is not a torch module: its fingerprint is taken every time.
    """
    state_dict = getattr(model, "state_dict", None)
    if not callable(state_dict):
        return None
    settings = (repr(model), *(getattr(model, a, None) for a in ("max_seq_length", "truncate_dim")))
    weights = tuple(
        (name, id(t), t.data_ptr(), t._version) for name, t in state_dict(keep_vars=True).items()
    )
    return settings + weights


def _encode(model, model_key, texts, normalize, batch_size, show_progress) -> np.ndarray:
    """Embed ``texts`` with ``model``; ``model_key`` stands for the model in cache keys."""
    emb = model.encode(
        list(texts),
        batch_size=batch_size,
        show_progress_bar=show_progress,
        normalize_embeddings=normalize,
        convert_to_numpy=True,
    )
    emb = np.asarray(emb, dtype=np.float32)
    if normalize and emb.ndim == 2 and emb.size:
        # models that ignore normalize_embeddings still give unit-norm rows;
        # rows already of unit norm (sentence-transformers' own) stay bit-identical
        norms = np.linalg.norm(emb.astype(np.float64), axis=1)
        if not np.allclose(norms[norms > 0], 1.0, rtol=0, atol=1e-5):
            emb = (emb / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)
    return emb


class SentenceEmbedder(TransformerMixin, BaseEstimator):
    """Texts, or pairs of texts, to sentence embeddings (sentence-transformers).

    ``transform`` maps texts of shape ``(n,)`` (or ``(n, 1)``) to ``(n, d)``
    float32 embeddings, and text pairs of shape ``(n, 2)`` (response A,
    response B) to ``(n, 2 d)``: A's embedding then B's, the pair rows
    :class:`~skhyre.HyReRewardModel` expects. Each distinct text is embedded
    once per call, in batches of ``batch_size``.

    Parameters
    ----------
    model : str, path or SentenceTransformer, default="sentence-transformers/all-MiniLM-L6-v2"
        A model name on the Hugging Face hub or a local directory (loaded by
        ``fit``; needs ``pip install "skhyre[text]"``, and network access
        for a hub name not yet in the local hub cache), or a loaded model:
        any object with sentence-transformers' ``encode`` method.
    batch_size : int, default=32
        Texts per forward pass.
    normalize : bool, default=True
        Scale every embedding to unit Euclidean norm.
    cache_dir : str, path or None, default=None
        A directory where :class:`joblib.Memory` keeps embeddings, keyed by
        the model's content (class, configuration and weights), the set of
        distinct texts and ``normalize``. ``None`` caches nothing. The content
        is hashed again when a torch model's weights are written in place or
        replaced or its ``repr`` changes; a change that shows in none of these
        (a replaced ``encode`` method, say) is not seen: call ``fit`` again.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where a model loaded from a name or path runs (``"auto"``: CUDA when
        available). A model passed already loaded runs where it is.
    show_progress : bool or None, default=None
        Show a progress bar while embedding; ``None`` shows one when a call
        has more than 256 distinct texts.

    Attributes
    ----------
    model_ : object
        The loaded model (``model`` itself when it was passed loaded). Not
        pickled when ``model`` is a name or path: it is reloaded on first
        use after unpickling.
    embedding_dim_ : int
        Width ``d`` of one embedding.
    n_features_in_ : int
        Text columns seen in ``fit``: 1 for texts, 2 for pairs.
    feature_names_in_ : ndarray of str
        Column names of a DataFrame passed to ``fit``, if they are strings.

    See Also
    --------
    skhyre.HyReRewardModel : a reward ensemble over the pair features.

    Notes
    -----
    ``fit`` learns nothing from the data: it loads the model and records the
    input's shape and column names. ``transform`` checks its input against
    them as scikit-learn's transformers do: texts after fitting on texts,
    pairs after fitting on pairs (a ``ValueError`` otherwise), and a
    DataFrame's column names must be those seen in ``fit``, in the same
    order (a ``ValueError`` names both: swapped response columns would
    otherwise embed each pair swapped). Names seen on one side only give
    scikit-learn's ``UserWarning`` and the columns are read in order. After
    ``fit()`` without ``X`` nothing is recorded and ``transform`` takes
    texts or pairs.

    Examples
    --------
    With sentence-transformers installed, a model by name (downloaded once
    into the hub cache) or by local path::

        >>> emb = SentenceEmbedder(cache_dir="embeddings")  # doctest: +SKIP
        >>> emb.fit_transform([["Paris.", "It is Lyon."]]).shape  # doctest: +SKIP
        (1, 768)

    Any object with an ``encode`` method works as a loaded model, here a
    toy character-count encoder:

    >>> import numpy as np
    >>> from skhyre.text import SentenceEmbedder
    >>> class CharCounts:
    ...     def encode(self, texts, batch_size=32, show_progress_bar=None,
    ...                normalize_embeddings=False, convert_to_numpy=True):
    ...         return np.array([[t.count("a"), t.count("b"), len(t)] for t in texts], float)
    ...     def get_sentence_embedding_dimension(self):
    ...         return 3
    >>> emb = SentenceEmbedder(model=CharCounts(), normalize=False)
    >>> emb.fit_transform(["ab", "aab"])
    array([[1., 1., 2.],
           [2., 1., 3.]], dtype=float32)
    >>> pairs = np.array([["ab", "b"], ["a", "aab"]])
    >>> emb.fit(pairs).transform(pairs).shape
    (2, 6)
    >>> emb.get_feature_names_out()[:4].tolist()
    ['a_0', 'a_1', 'a_2', 'b_0']
    """

    _parameter_constraints: ClassVar[dict] = {
        "model": [str, os.PathLike, HasMethods(["encode"])],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "normalize": ["boolean"],
        "cache_dir": [None, str, os.PathLike],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str],
        "show_progress": [None, "boolean"],
    }

    def __init__(
        self,
        model="sentence-transformers/all-MiniLM-L6-v2",
        batch_size=32,
        normalize=True,
        cache_dir=None,
        device="cpu",
        show_progress=None,
    ):
        self.model = model
        self.batch_size = batch_size
        self.normalize = normalize
        self.cache_dir = cache_dir
        self.device = device
        self.show_progress = show_progress

    # ------------------------------------------------------------------ fit
    def _loads_by_name(self) -> bool:
        return isinstance(self.model, (str, os.PathLike))

    def _load_model(self):
        if self._loads_by_name():
            return load_sentence_transformer(os.fspath(self.model), _resolve_device(self.device))
        return self.model

    def _get_model(self):
        model = getattr(self, "model_", None)
        if model is None:
            model = self.model_ = self._load_model()
        return model

    @staticmethod
    def _dimension(model) -> int | None:
        for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
            method = getattr(model, name, None)
            if callable(method):
                dim = method()
                if dim is not None:
                    return int(dim)
        return None

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Load the model and record the input's shape; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n,), (n, 1) or (n, 2) of str, default=None
            Texts or text pairs; only their shape and column names are used.
            ``None`` records nothing but the model.
        y : None
            Ignored.

        Returns
        -------
        self : SentenceEmbedder
        """
        _resolve_device(self.device)
        for attr in ("n_features_in_", "feature_names_in_", "_model_key"):
            self.__dict__.pop(attr, None)
        if X is not None:
            _, n_cols, names = _as_texts(X)
            self.n_features_in_ = n_cols
            if names is not None:
                self.feature_names_in_ = np.asarray(names, dtype=object)
        self.model_ = self._load_model()
        dim = self._dimension(self.model_)
        if dim is None:  # a duck-typed model without a dimension method
            dim = _encode(self.model_, None, [""], self.normalize, 1, False).shape[1]
        self.embedding_dim_ = dim
        return self

    # ------------------------------------------------------------ transform
    def _embed_unique(self, texts: list[str]) -> np.ndarray:
        model = self._get_model()
        show = self.show_progress
        if show is None:
            show = len(texts) > _AUTO_PROGRESS_MIN_TEXTS
        args = (texts, bool(self.normalize), int(self.batch_size), bool(show))
        if self.cache_dir is None:
            return _encode(model, None, *args)
        import joblib

        # the fingerprint hashes every weight: redone only when a weight tensor was
        # replaced or changed in place (fine-tuning, load_state_dict) since the last one
        token = _weights_token(model)
        key = getattr(self, "_model_key", None)
        if key is None or token is None or token != getattr(self, "_model_token", None):
            key = self._model_key = _fingerprint(model)
            self._model_token = token
        memory = joblib.Memory(location=os.fspath(self.cache_dir), verbose=0)
        cached = memory.cache(_encode, ignore=["model", "batch_size", "show_progress"])
        return cached(model, key, *args)

    def transform(self, X) -> np.ndarray:
        """Embed texts ``(n,)`` to ``(n, d)``, or text pairs ``(n, 2)`` to ``(n, 2 d)``.

        Parameters
        ----------
        X : array-like of shape (n,), (n, 1) or (n, 2) of str
            Texts, or pairs (response A, response B): shaped like the input
            of ``fit``, and a DataFrame with the column names ``fit`` saw, in
            the same order.

        Returns
        -------
        ndarray of shape (n, d) or (n, 2 * d), float32

        Raises
        ------
        ValueError
            When ``X`` has texts where ``fit`` saw pairs (or the other way
            round), or column names other than ``fit``'s or in another order.
        """
        check_is_fitted(self, "embedding_dim_")
        flat, n_cols, names = _as_texts(X)
        self._check_columns(n_cols, names)
        # distinct texts, sorted: each is embedded once, and a cache key does not
        # depend on the order or the repetitions of the texts
        unique = sorted(set(flat))
        position = {text: i for i, text in enumerate(unique)}
        inverse = np.fromiter((position[t] for t in flat), dtype=np.intp, count=flat.shape[0])
        E = self._embed_unique(unique)
        d = self.embedding_dim_
        if E.ndim != 2 or E.shape != (len(unique), d):
            raise ValueError(
                f"the model returned embeddings of shape {E.shape}; expected "
                f"{(len(unique), d)} (one row of embedding_dim_={d} per distinct text)."
            )
        return E[inverse].reshape(-1, n_cols * d)

    def _check_columns(self, n_cols: int, names: list[str] | None) -> None:
        """Refuse input whose text columns differ from ``fit``'s (as scikit-learn does)."""
        fitted = getattr(self, "feature_names_in_", None)
        fitted = None if fitted is None else [str(c) for c in fitted]
        name = type(self).__name__
        if fitted is not None and names is not None and names != fitted:
            order = (
                " Feature names must be in the same order as they were in fit."
                if sorted(names) == sorted(fitted)
                else ""
            )
            raise ValueError(
                "The feature names should match those that were passed during fit: "
                f"{name} was fitted on the text columns {fitted} and got {names}.{order} "
                f"Select the columns in fit's order: X[{fitted}]."
            )
        expected = getattr(self, "n_features_in_", None)
        if expected is not None and n_cols != expected:
            raise ValueError(
                f"X has {_describe_columns(n_cols)}, but {name} was fitted on "
                f"{_describe_columns(expected)}: X has {n_cols} features, but {name} is "
                f"expecting {expected} features as input. Fit it on input shaped like the "
                "input to transform (or call fit() without X to accept both)."
            )
        # scikit-learn's warnings where only one side has names (transform is
        # wrapped by set_output, so the caller is 4 frames up)
        if fitted is not None and names is None:
            warnings.warn(
                f"X does not have valid feature names, but {name} was fitted with feature "
                f"names {fitted}; its columns are read in that order.",
                UserWarning,
                stacklevel=4,
            )
        elif fitted is None and names is not None and expected is not None:
            warnings.warn(
                f"X has feature names, but {name} was fitted without feature names",
                UserWarning,
                stacklevel=4,
            )

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output names: ``"<column>_<i>"`` per text column seen in ``fit``.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Text column names: one (texts) or two (pairs). Default: the
            DataFrame's column names seen in ``fit``, else ``["embedding"]``
            for texts and ``["a", "b"]`` for pairs.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "embedding_dim_")
        n_cols = getattr(self, "n_features_in_", 1)
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", None)
        if input_features is None:
            input_features = ["embedding"] if n_cols == 1 else ["a", "b"]
        input_features = [str(c) for c in input_features]
        if len(input_features) != n_cols:
            raise ValueError(
                f"input_features has {len(input_features)} names but fit saw {n_cols} text "
                "column(s)."
            )
        return np.asarray(
            [f"{c}_{i}" for c in input_features for i in range(self.embedding_dim_)],
            dtype=object,
        )

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: on Python >= 3.11 it is self.__dict__
        if self._loads_by_name():
            state.pop("model_", None)  # reloaded from the name or path on first use
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
