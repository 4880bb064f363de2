"""Real text-preference data: DSP domain preferences and Anthropic HH-RLHF pairs.

* :func:`load_dsp`: the Domain-Specific Preference (DSP) test set of Cheng et
  al. (2023): 661 queries, each with five answers written for the domains
  ``academy``, ``business``, ``entertainment``, ``literature`` and ``normal``.
* :func:`load_hh_rlhf`: Anthropic's helpful/harmless ``chosen``/``rejected``
  transcripts (Bai et al., 2022), test splits.
* :func:`make_dsp_pairs`: DSP as per-domain preference pairs. Within domain
  ``D``, ``D``'s answer is preferred over each other answer, so the four
  domains are four user groups with conflicting preferences over the same
  prompts.
* :func:`make_hh_pairs`: HH-RLHF transcripts as preference pairs.
* :func:`format_exchange` and :func:`split_last_turn`: the text of one
  response as the reward model sees it.

The files are not shipped with skhyre (the DSP data is CC BY-NC 4.0). They
are looked for, in this order, in ``data_home``, in the folder named by the
environment variable ``SKHYRE_PREFERENCE_DATA``, and in ``~/skhyre_data``,
with this layout::

    <home>/dsp/domain_specific_preference.test.json
    <home>/hh-rlhf/harmless-base/test.jsonl.gz
    <home>/hh-rlhf/helpful-base-via-dsp/test.jsonl.gz

Every file is checked against its SHA-256 before it is parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ..datasets import data_homes as _shared_data_homes

__all__ = [
    "DSP_DOMAINS",
    "DSP_GROUPS",
    "HH_SUBSETS",
    "format_exchange",
    "load_dsp",
    "load_hh_rlhf",
    "make_dsp_pairs",
    "make_hh_pairs",
    "split_last_turn",
]

_ENV_VAR = "SKHYRE_PREFERENCE_DATA"

#: The five answer styles of every DSP query, in file order.
DSP_DOMAINS: tuple[str, ...] = ("academy", "business", "entertainment", "literature", "normal")
#: The four DSP user groups: domain ``D`` prefers ``D``'s answer over the others.
DSP_GROUPS: tuple[str, ...] = ("academy", "business", "entertainment", "literature")

_DSP_FILE = "dsp/domain_specific_preference.test.json"
_DSP_SHA256 = "e4aac8fe77dfd4e41168785856a552402b7f28a359606e6d3c28818489fda9e6"

#: HH-RLHF subset name -> (relative path, SHA-256). ``"helpful-base"`` is a
#: reconstruction of the original test split (2352 of its 2354 pairs) from
#: the DSP repository's cleaned copy.
HH_SUBSETS: dict[str, tuple[str, str]] = {
    "harmless-base": (
        "hh-rlhf/harmless-base/test.jsonl.gz",
        "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03",
    ),
    "helpful-base": (
        "hh-rlhf/helpful-base-via-dsp/test.jsonl.gz",
        "54b6489603c5adca3d9efcab2f0257e3d7d4c0acd5435d7d304a56ad3cca847b",
    ),
}
_HH_ALIASES = {"helpful-base-via-dsp": "helpful-base"}

_DSP_DESCR = """Domain-Specific Preference (DSP) data, test split.

Cheng, P., Xie, J., Bai, K., Dai, Y., Du, N. (2023). "Everyone Deserves A
Reward: Learning Customized Human Preferences", arXiv:2309.03126. Repository
Linear95/DSP, data/domain_specific_preference.test.json. Each query has five
answers written by ChatGPT for the domains academy, business, entertainment,
literature and normal. License: CC BY-NC 4.0 (non-commercial).
"""

_HH_DESCR = """Anthropic HH-RLHF preference pairs, {subset} test split.

Bai, Y. et al. (2022). "Training a Helpful and Harmless Assistant with
Reinforcement Learning from Human Feedback", arXiv:2204.05862. Repository
anthropics/hh-rlhf (MIT license). Each pair is a chosen and a rejected
"\\n\\nHuman: ... \\n\\nAssistant: ..." transcript sharing the same prefix.
The data contains offensive or upsetting content.{note}
"""
_HELPFUL_NOTE = (
    "\nThis helpful-base copy is a reconstruction (2352 of the original 2354 pairs) from "
    "Linear95/DSP, data/helpful.test.json (CC BY-NC 4.0)."
)


# ---------------------------------------------------------------------------
# Finding and checking files
# ---------------------------------------------------------------------------


def data_homes(data_home: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """The folders searched, in order (see :func:`skhyre.datasets.data_homes`)."""
    return _shared_data_homes(data_home, _ENV_VAR)


def _find(relative: str, data_home, what: str) -> Path:
    """The first ``<home>/<relative>`` that exists, or a FileNotFoundError naming every place."""
    homes = data_homes(data_home)
    for home, _ in homes:
        path = home / relative
        if path.is_file():
            return path
    places = "\n".join(f"  - {home / relative} ({why})" for home, why in homes)
    raise FileNotFoundError(
        f"{what} was not found. Looked for {relative} in:\n{places}\n"
        f"Put the file there (keeping the folder layout <home>/{relative}), or point the "
        f"data_home argument or the {_ENV_VAR} environment variable at the folder that holds "
        f"{relative.split('/')[0]}/. skhyre does not download preference data."
    )


def _read_verified(path: Path, sha256: str) -> bytes:
    """The bytes of ``path``, after checking their SHA-256."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"checksum mismatch for {path}: expected SHA-256 {sha256}, got {digest}. The file "
            "is corrupted or is not the expected version; replace it with the original."
        )
    return raw


# ---------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------


def load_dsp(data_home: str | os.PathLike | None = None) -> Bunch:
    """Load the Domain-Specific Preference (DSP) test set.

    The file ``dsp/domain_specific_preference.test.json`` is looked for in
    ``data_home``, then in ``$SKHYRE_PREFERENCE_DATA``, then in
    ``~/skhyre_data``; its SHA-256 is checked before parsing.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder searched first; it holds ``dsp/``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        prompts : ndarray of shape (n_prompts,), dtype object
            The queries.
        responses : ndarray of shape (n_prompts, 5), dtype object
            The answers, one column per domain of ``domains``.
        domains : list of str
            ``["academy", "business", "entertainment", "literature", "normal"]``.
        DESCR : str
            Description, citation and license.
        filename : str
            The file read.

    Raises
    ------
    FileNotFoundError
        If no folder has the file; the message names every place looked in.
    ValueError
        If the file fails its checksum or is malformed.

    See Also
    --------
    make_dsp_pairs : per-domain preference pairs.

    Examples
    --------
    With the data in ``$SKHYRE_PREFERENCE_DATA`` (or ``~/skhyre_data``):

    >>> from skhyre.studies.preference_data import load_dsp
    >>> dsp = load_dsp()  # doctest: +SKIP
    >>> dsp.responses.shape, dsp.domains[:2]  # doctest: +SKIP
    ((661, 5), ['academy', 'business'])
    """
    path = _find(_DSP_FILE, data_home, "The DSP data (domain_specific_preference.test.json)")
    raw = _read_verified(path, _DSP_SHA256)
    return _parse_dsp(raw, path)


def _parse_dsp(raw: bytes, path: Path) -> Bunch:
    try:
        items = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path} must hold a non-empty JSON list of queries.")
    prompts, responses = [], []
    for i, item in enumerate(items):
        try:
            answers = item["responses"]
            row = [answers[d] for d in DSP_DOMAINS]
            query = item["query"]
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}: item {i} must have a 'query' and 'responses' with the keys "
                f"{list(DSP_DOMAINS)}; missing {exc}."
            ) from exc
        if not all(isinstance(t, str) for t in (query, *row)):
            raise ValueError(f"{path}: item {i} has a query or an answer that is not a string.")
        prompts.append(query)
        responses.append(row)
    resp = np.empty((len(responses), len(DSP_DOMAINS)), dtype=object)
    resp[:] = responses
    return Bunch(
        prompts=np.asarray(prompts, dtype=object),
        responses=resp,
        domains=list(DSP_DOMAINS),
        DESCR=_DSP_DESCR,
        filename=str(path),
    )


def _check_subset(subset: str) -> str:
    if not isinstance(subset, str):
        raise TypeError(f"subset must be a string, got {type(subset).__name__}.")
    subset = _HH_ALIASES.get(subset, subset)
    if subset not in HH_SUBSETS:
        raise ValueError(f"Unknown HH-RLHF subset {subset!r}; valid subsets are {list(HH_SUBSETS)}.")
    return subset


def load_hh_rlhf(subset: str, data_home: str | os.PathLike | None = None) -> Bunch:
    """Load an Anthropic HH-RLHF test split: ``"helpful-base"`` or ``"harmless-base"``.

    The gzipped JSON-lines file (see the module docstring for the layout)
    is looked for in ``data_home``, then in ``$SKHYRE_PREFERENCE_DATA``,
    then in ``~/skhyre_data``; its SHA-256 is checked before parsing.

    Parameters
    ----------
    subset : {"helpful-base", "harmless-base"}
        Which split. ``"helpful-base"`` reads
        ``hh-rlhf/helpful-base-via-dsp/test.jsonl.gz`` (a reconstruction with
        2352 of the original 2354 pairs; ``"helpful-base-via-dsp"`` is
        accepted as well).
    data_home : str or os.PathLike, default=None
        Folder searched first; it holds ``hh-rlhf/``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        chosen, rejected : ndarray of shape (n_pairs,), dtype object
            The preferred and the other full transcript of every pair.
        subset : str
            The subset that was loaded.
        DESCR : str
            Provenance, licence and citation.
        filename : str
            The file that was read.

    Raises
    ------
    FileNotFoundError
        If no folder has the file; the message names every place looked in.
    ValueError
        If ``subset`` is unknown, or the file fails its checksum or is malformed.

    See Also
    --------
    make_hh_pairs : the transcripts as preference pairs.

    Examples
    --------
    >>> from skhyre.studies.preference_data import load_hh_rlhf
    >>> hh = load_hh_rlhf("harmless-base")  # doctest: +SKIP
    >>> len(hh.chosen)  # doctest: +SKIP
    2312
    """
    subset = _check_subset(subset)
    relative, sha256 = HH_SUBSETS[subset]
    path = _find(relative, data_home, f"The HH-RLHF {subset} test split ({relative})")
    raw = _read_verified(path, sha256)
    try:
        text = gzip.decompress(raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not gzipped UTF-8 text: {exc}") from exc
    chosen, rejected = [], []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            c, r = obj["chosen"], obj["rejected"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}: line {i + 1} must be a JSON object with 'chosen' and 'rejected': {exc}"
            ) from exc
        if not (isinstance(c, str) and isinstance(r, str)):
            raise ValueError(f"{path}: line {i + 1} has a 'chosen' or 'rejected' that is not text.")
        chosen.append(c)
        rejected.append(r)
    if not chosen:
        raise ValueError(f"{path} holds no pairs.")
    note = _HELPFUL_NOTE if subset == "helpful-base" else ""
    return Bunch(
        chosen=np.asarray(chosen, dtype=object),
        rejected=np.asarray(rejected, dtype=object),
        subset=subset,
        DESCR=_HH_DESCR.format(subset=subset, note=note),
        filename=str(path),
    )


# ---------------------------------------------------------------------------
# Texts and pairs
# ---------------------------------------------------------------------------


def format_exchange(prompt: str, response: str) -> str:
    """One response as the reward model reads it: the prompt, then the answer.

    Parameters
    ----------
    prompt : str
    response : str

    Returns
    -------
    str
        ``"Human: <prompt>\\n\\nAssistant: <response>"`` (both stripped).

    Examples
    --------
    >>> from skhyre.studies.preference_data import format_exchange
    >>> format_exchange("Hi?", " Hello. ")
    'Human: Hi?\\n\\nAssistant: Hello.'
    """
    return f"Human: {prompt.strip()}\n\nAssistant: {response.strip()}"


def split_last_turn(transcript: str) -> tuple[str, str]:
    """The last human turn and the final assistant answer of an HH transcript.

    Sentence encoders truncate long inputs at the end, which would cut off
    the final answer, the only part in which a chosen and a rejected
    transcript differ; keeping the last exchange avoids that.

    Parameters
    ----------
    transcript : str
        ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` turns.

    Returns
    -------
    (last_human, final_answer) : tuple of str
        Stripped. ``last_human`` is ``""`` when the transcript has no human turn.

    Raises
    ------
    ValueError
        If the transcript has no ``"Assistant:"`` turn.

    Examples
    --------
    >>> from skhyre.studies.preference_data import split_last_turn
    >>> split_last_turn("\\n\\nHuman: Hi\\n\\nAssistant: Hey\\n\\nHuman: Joke?\\n\\nAssistant: No.")
    ('Joke?', 'No.')
    """
    head, sep, answer = transcript.rpartition("\n\nAssistant:")
    if not sep:
        head, sep, answer = transcript.rpartition("Assistant:")
    if not sep:
        raise ValueError(f"transcript has no 'Assistant:' turn: {transcript[:80]!r}...")
    _, hsep, human = head.rpartition("Human:")
    return (human.strip() if hsep else ""), answer.strip()


def _check_ids(ids, n: int, name: str) -> np.ndarray:
    if ids is None:
        return np.arange(n)
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got {arr!r}.")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name} must index into 0..{n - 1}, got values outside that range.")
    return arr.astype(np.intp)


def make_dsp_pairs(
    data: Bunch,
    groups: Sequence[str] = DSP_GROUPS,
    prompt_ids=None,
    *,
    random_state=None,
) -> Bunch:
    """DSP as per-domain preference pairs, one group per domain.

    For every selected prompt and every domain ``D`` of ``groups``, ``D``'s
    answer is paired with each of the other four answers and is the
    preferred one. The preferred answer is put in position A or B by a fair
    coin, so ``y`` is balanced. Texts are :func:`format_exchange` of the
    query and the answer. A pair whose two answers are the same text (26 of
    the 661 DSP queries have a domain answer copied from another) expresses
    no preference and is left out.

    Parameters
    ----------
    data : Bunch
        From :func:`load_dsp`.
    groups : sequence of str, default=DSP_GROUPS
        The domains that act as user groups (any of :data:`DSP_DOMAINS`;
        ``"normal"`` is only a rival by default).
    prompt_ids : array-like of int, default=None
        Indices of the prompts to use (default: all).
    random_state : int, RandomState instance or None, default=None
        Seeds the A/B positions.

    Returns
    -------
    pairs : :class:`~sklearn.utils.Bunch`
        X : ndarray of shape (n_pairs, 2), dtype object
            Texts of response A and response B.
        y : ndarray of shape (n_pairs,), int
            ``1`` when A is preferred.
        groups : ndarray of shape (n_pairs,), dtype object
            The domain whose preference the pair records.
        prompt_ids : ndarray of shape (n_pairs,), int
            Index of the prompt in ``data``.
        rival : ndarray of shape (n_pairs,), dtype object
            The domain of the dispreferred answer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from skhyre.studies.preference_data import DSP_DOMAINS, make_dsp_pairs
    >>> data = Bunch(prompts=np.array(["Q?"], dtype=object),
    ...              responses=np.array([[f"{d} answer" for d in DSP_DOMAINS]], dtype=object),
    ...              domains=list(DSP_DOMAINS))
    >>> p = make_dsp_pairs(data, groups=["academy"], random_state=0)
    >>> p.X.shape, p.groups.tolist(), p.rival.tolist()
    ((4, 2), ['academy', 'academy', 'academy', 'academy'], ['business', 'entertainment', 'literature', 'normal'])
    >>> winners = np.where(p.y == 1, p.X[:, 0], p.X[:, 1])
    >>> all(w.endswith("academy answer") for w in winners)
    True
    """
    domains = list(getattr(data, "domains", DSP_DOMAINS))
    if isinstance(groups, str):
        groups = [groups]
    groups = list(groups)
    unknown = [g for g in groups if g not in domains]
    if unknown or not groups:
        raise ValueError(f"groups must be a non-empty subset of {domains}; got unknown {unknown}.")
    responses = np.asarray(data.responses, dtype=object)
    prompts = np.asarray(data.prompts, dtype=object)
    ids = _check_ids(prompt_ids, prompts.shape[0], "prompt_ids")
    rng = check_random_state(random_state)
    texts = [[format_exchange(prompts[i], responses[i, j]) for j in range(len(domains))] for i in ids]
    A, B, y, grp, pid, rival = [], [], [], [], [], []
    for row, i in enumerate(ids):
        for g in groups:
            gi = domains.index(g)
            for j, other in enumerate(domains):
                if j == gi:
                    continue
                win, lose = texts[row][gi], texts[row][j]
                if win == lose:  # a domain copied another's answer: no preference
                    continue
                a_wins = bool(rng.randint(2))
                A.append(win if a_wins else lose)
                B.append(lose if a_wins else win)
                y.append(int(a_wins))
                grp.append(g)
                pid.append(i)
                rival.append(other)
    X = np.empty((len(A), 2), dtype=object)
    X[:, 0], X[:, 1] = A, B
    return Bunch(
        X=X,
        y=np.asarray(y, dtype=np.int64),
        groups=np.asarray(grp, dtype=object),
        prompt_ids=np.asarray(pid, dtype=np.intp),
        rival=np.asarray(rival, dtype=object),
    )


def make_hh_pairs(data: Bunch, pair_ids=None, *, random_state=None) -> Bunch:
    """HH-RLHF transcripts as preference pairs of last exchanges.

    Each response is :func:`format_exchange` of the last human turn and the
    final assistant answer (:func:`split_last_turn`); the chosen one is put
    in position A or B by a fair coin.

    Parameters
    ----------
    data : Bunch
        From :func:`load_hh_rlhf`.
    pair_ids : array-like of int, default=None
        Indices of the pairs to use (default: all).
    random_state : int, RandomState instance or None, default=None
        Seeds the A/B positions.

    Returns
    -------
    pairs : :class:`~sklearn.utils.Bunch`
        X : ndarray of shape (n_pairs, 2), dtype object
        y : ndarray of shape (n_pairs,), int (``1``: A is the chosen one)
        prompt_ids : ndarray of shape (n_pairs,), int (index of the pair in ``data``)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.utils import Bunch
    >>> from skhyre.studies.preference_data import make_hh_pairs
    >>> data = Bunch(chosen=np.array(["\\n\\nHuman: Hi\\n\\nAssistant: Hello!"], dtype=object),
    ...              rejected=np.array(["\\n\\nHuman: Hi\\n\\nAssistant: Go away."], dtype=object))
    >>> p = make_hh_pairs(data, random_state=0)
    >>> p.X[0, 1 - p.y[0]]  # the chosen one: column 0 when y = 1, column 1 when y = 0
    'Human: Hi\\n\\nAssistant: Hello!'
    """
    chosen = np.asarray(data.chosen, dtype=object)
    rejected = np.asarray(data.rejected, dtype=object)
    if chosen.shape != rejected.shape or chosen.ndim != 1:
        raise ValueError(
            f"data.chosen and data.rejected must be 1-D of the same length, got "
            f"{chosen.shape} and {rejected.shape}."
        )
    ids = _check_ids(pair_ids, chosen.shape[0], "pair_ids")
    rng = check_random_state(random_state)
    X = np.empty((ids.size, 2), dtype=object)
    y = np.empty(ids.size, dtype=np.int64)
    for row, i in enumerate(ids):
        win = format_exchange(*split_last_turn(chosen[i]))
        lose = format_exchange(*split_last_turn(rejected[i]))
        a_wins = bool(rng.randint(2))
        X[row] = (win, lose) if a_wins else (lose, win)
        y[row] = int(a_wins)
    return Bunch(X=X, y=y, prompt_ids=ids)
