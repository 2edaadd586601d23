"""Data files of the command line: ``.csv``, ``.npy`` and ``.npz``, their header and columns.

A data file holds one numeric table, samples in rows. A ``.csv`` file may
start with a header line of column names; its lines starting with ``#`` are
comments (as NumPy's ``loadtxt`` and ``savetxt`` have them). Columns may be
picked or dropped by name (with a header) or by number (from 1, as ``cut``
counts them), before the numbers are read, so that a text column (a label, a
target) need not be removed by hand. Everything a file may hold that would
give a silently wrong answer is refused with one :class:`DataFileError`
naming the file: a first column without a name (the row index that pandas'
``to_csv`` writes), a header whose length is not the data's, a missing value.
"""

from __future__ import annotations

import collections
import csv
import re
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple, TextIO

import numpy as np

from ._persistence import MemoryBudget, read_entry

try:
    from lzma import LZMAError
except ImportError:  # a Python built without liblzma, whose zipfile refuses LZMA members
    LZMAError = zlib.error

__all__ = ["DataFileError", "Table", "csv_header", "one_line", "read_table"]

#: What reading a damaged or hostile data file raises: ValueError, OSError and EOFError
#: from NumPy (a bad header, a truncated file), MemoryError (a header claiming a huge shape),
#: csv.Error (a field over the csv module's size limit), and from the zip archive of a ``.npz``
#: BadZipFile, zlib.error and LZMAError (corrupt compressed data) and RuntimeError (an encrypted
#: member, or one compressed by a method the zipfile module lacks).
READ_ERRORS = (ValueError, OSError, EOFError, MemoryError, RuntimeError, csv.Error,
               zipfile.BadZipFile, zlib.error, LZMAError)
#: Separators that a file of numbers is sometimes written with instead of commas, by name.
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", " ": "spaces"}
#: The characters of a first line read to tell numbers from a header (a line of numbers
#: longer than this is not split whole).
SNIFF_CHARACTERS = 2**16
#: The name pandas gives a column without one, read back (``Unnamed: 0``): a row index.
UNNAMED = re.compile(r"Unnamed: \d+")


class DataFileError(ValueError):
    """A data file that cannot be read as a table of numbers, with the reason."""


class Table(NamedTuple):
    """A data file's numbers, samples in rows, and its column names (None without a header)."""

    data: np.ndarray
    header: list[str] | None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _other_separator(field: str) -> str | None:
    """The name of the separator of :data:`OTHER_SEPARATORS` that splits ``field`` into
    several numbers (``'1;2'``, or ``'5;2'`` of ``'1,5;2,3'`` with decimal commas), if one does."""
    for separator, name in OTHER_SEPARATORS.items():
        parts = field.split() if separator == " " else field.split(separator)
        if len(parts) > 1 and all(_is_number(part) for part in parts):
            return name
    return None


def _lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    """The lines of ``stream`` that are not comments, with their numbers (from 1)."""
    for number, line in enumerate(stream, start=1):
        if not line.startswith("#"):
            yield number, line


def _fields(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _count_fields(line: str) -> int:
    """The fields of ``line``, counted without holding them where no quote can hide a comma."""
    return line.count(",") + 1 if '"' not in line else len(_fields(line))


def _is_header(line: str) -> bool:
    """Whether ``line`` names columns: a field that is neither empty nor a number (nor numbers
    joined by another separator). An empty field is a missing value, not a name.

    Only the first :data:`SNIFF_CHARACTERS` are split (the last field there may be cut):
    a line of numbers longer than that is not held as a list of fields.
    """
    head = line[:SNIFF_CHARACTERS]
    fields = _fields(head)
    if len(head) < len(line):
        fields = fields[:-1]
    return any(field.strip() and not _is_number(field) and not _other_separator(field)
               for field in fields)


def _first_line(path: Path) -> tuple[int, str]:
    """The first line that is not a comment, and its number (0 and "" if there is none)."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        return next(_lines(stream), (0, ""))


def _header_of(line: str) -> list[str] | None:
    """The fields of ``line`` if it is a header (:func:`_is_header`), else None."""
    return _fields(line) if line and _is_header(line) else None


def csv_header(name: str) -> list[str] | None:
    """The column names of a ``.csv`` file whose first line (comments aside) is a header;
    None for a file without one, of another kind, or that cannot be read (:func:`read_table`
    says why)."""
    path = Path(name)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return None
    try:
        _, line = _first_line(path)
    except (OSError, UnicodeDecodeError):
        return None
    return _header_of(line)


def _column_numbers(spec: Sequence[str], header: list[str] | None, n_columns: int,
                    path: Path) -> list[int]:
    """The 0-based columns that names or 1-based numbers in ``spec`` pick, in that order.

    Raises
    ------
    DataFileError
        For a name not in the header, a number outside ``1..n_columns``, or a
        column picked twice.
    """
    columns = []
    for item in spec:
        if header is not None and item in header:
            columns.append(header.index(item))
        elif item.isdigit() and 1 <= int(item) <= n_columns:
            columns.append(int(item) - 1)
        else:
            known = f"its columns are {', '.join(header)}" if header else (
                f"it has {n_columns} columns, numbered from 1")
            raise DataFileError(f"{path}: no column {item!r} ({known})")
    if len(set(columns)) != len(columns):
        raise DataFileError(f"{path}: a column is named twice in {','.join(spec)}")
    return columns


def _chosen(header: list[str] | None, n_columns: int, path: Path,
            columns: Sequence[str] | None, drop: Sequence[str] | None) -> list[int] | None:
    """The 0-based columns to read: those of ``columns`` (all when None), less those of
    ``drop``; None for all of them."""
    if not (columns or drop):
        return None
    chosen = (_column_numbers(columns, header, n_columns, path) if columns
              else list(range(n_columns)))
    dropped = set(_column_numbers(drop, header, n_columns, path)) if drop else set()
    chosen = [column for column in chosen if column not in dropped]
    if not chosen:
        raise DataFileError(f"{path}: no column is left to cluster")
    return chosen


def _check_named(header: list[str], chosen: Sequence[int], path: Path) -> None:
    """Refuse chosen columns without a name, and names used twice: pandas' row index."""
    for column in chosen:
        name = header[column].strip()
        if not name or UNNAMED.fullmatch(name):
            what = "has no name" if not name else f"is named {name!r}"
            raise DataFileError(
                f"{path}: column {column + 1} {what} in the header: it looks like a row index "
                f"(pandas' to_csv writes one); drop it with --drop {column + 1}, or pick the "
                "columns to cluster with --columns")
    counts = collections.Counter(header[column] for column in chosen)
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        raise DataFileError(f"{path}: the header names {twice[0]!r} more than once")


def _report_bad_line(path: Path, skip: int, chosen: list[int] | None, n_columns: int) -> None:
    """Raise the :class:`DataFileError` that names the first line ``loadtxt`` could not read:
    a field that is not a number (and the separator it seems to use), or one too few or many."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        for number, line in _lines(stream):
            if number <= skip:
                continue
            row = _fields(line)
            if len(row) != n_columns:
                raise DataFileError(f"{path}, line {number}: {len(row)} columns, "
                                    f"expected {n_columns}")
            picked = row if chosen is None else [row[column] for column in chosen]
            bad = [field for field in picked if not _is_number(field)]
            if bad:
                if not bad[0].strip():
                    raise DataFileError(f"{path}, line {number}: a value is missing")
                separator = _other_separator(bad[0])
                hint = (f" (separated by {separator}? anykmeans reads numbers separated "
                        "by commas, with a decimal point)") if separator else ""
                raise DataFileError(f"{path}, line {number}: {bad[0]!r} is not a number{hint}")


def _read_csv(path: Path, columns: Sequence[str] | None,
              drop: Sequence[str] | None) -> Table:
    """Comma-separated numbers, one sample a line, in UTF-8 (with or without a byte-order
    mark), each possibly in double quotes; an optional header; ``#`` comment lines."""
    first, line = _first_line(path)
    if first == 0:
        raise DataFileError(f"{path} holds no data")
    header = _header_of(line)
    n_columns = _count_fields(line)
    del line
    chosen = _chosen(header, n_columns, path, columns, drop)
    if header is not None:
        _check_named(header, range(n_columns) if chosen is None else chosen, path)
    skip = first if header is not None else 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
            data = np.loadtxt(path, delimiter=",", quotechar='"', ndmin=2, skiprows=skip,
                              usecols=chosen, encoding="utf-8-sig")
    except ValueError:
        _report_bad_line(path, skip, chosen, n_columns)
        raise
    _check_columns(path, skip, n_columns)
    names = header if header is None or chosen is None else [header[c] for c in chosen]
    return Table(data, names)


def _check_columns(path: Path, skip: int, n_columns: int) -> None:
    """Refuse a file whose first data line has another number of fields than ``n_columns``
    (its header's, or its first line's): ``usecols`` reads such lines without a word."""
    with path.open(newline="", encoding="utf-8-sig") as stream:
        for number, line in _lines(stream):
            if number > skip:
                found = _count_fields(line)
                if found != n_columns:
                    raise DataFileError(
                        f"{path}, line {number}: {found} columns, but "
                        + (f"the header (line {skip}) names {n_columns}" if skip
                           else f"line 1 has {n_columns}"))
                return


def _read_npz(path: Path) -> np.ndarray:
    """The one array of an ``.npz`` archive, read as model files are: its header first, and
    at most ``MAX_EXPANSION`` times the archive's size in memory."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if len(names) != 1 or not names[0].endswith(".npy"):
            arrays = ", ".join(name.removesuffix(".npy") for name in names)
            raise DataFileError(f"{path} holds {len(names)} arrays ({arrays}); expected one")
        key = names[0].removesuffix(".npy")
        try:
            return read_entry(archive, key, "number", None, budget=MemoryBudget(archive))
        except ValueError as exc:
            raise DataFileError(f"cannot read {path}: {exc}") from exc


def read_table(name: str, columns: Sequence[str] | None = None,
               drop: Sequence[str] | None = None) -> Table:
    """The table of numbers in a ``.npy``, ``.npz`` (holding one array) or ``.csv`` file.

    Parameters
    ----------
    name : str
        The file.
    columns, drop : sequence of str, optional
        Columns to read (by name with a header, else by number from 1), in that
        order; and columns to leave out. All of them by default.

    Returns
    -------
    Table
        The numbers (a 1-D array becomes one feature) and the names of the
        columns read, when the file has a header.

    Raises
    ------
    DataFileError
        If the file is missing or not a regular file, of another kind, damaged,
        does not hold one numeric table of samples, has a row index column or
        a header that does not fit its data, misses a value, or names no such
        column.
    """
    path = Path(name)
    if not path.exists():
        raise DataFileError(f"no such file: {name}")
    if not path.is_file():
        raise DataFileError(f"not a regular file: {name}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            table = _read_csv(path, columns, drop)
        elif suffix in (".npy", ".npz"):
            data = np.load(path, allow_pickle=False) if suffix == ".npy" else _read_npz(path)
            table = Table(_as_table(data, name), None)
            chosen = _chosen(None, table.data.shape[1], path, columns, drop)
            if chosen is not None:
                table = Table(table.data[:, chosen], None)
        else:
            raise DataFileError(f"cannot read {name}: expected a .npy, .npz or .csv file")
    except DataFileError:
        raise
    except READ_ERRORS as exc:
        raise DataFileError(f"cannot read {name}: {one_line(exc)}") from exc
    if table.data.dtype.kind not in "biuf":
        raise DataFileError(f"{name} holds {table.data.dtype} data, not numbers")
    if table.data.size == 0:
        raise DataFileError(f"{name} holds no data")
    if table.data.dtype.kind == "f" and not np.isfinite(table.data).all():
        row, column = np.argwhere(~np.isfinite(table.data))[0].tolist()
        raise DataFileError(
            f"cannot read {name}: row {row + 1} of its data holds {table.data[row, column]} in "
            f"column {column + 1} (a missing value, or a number beyond float64's range)")
    return table


def _as_table(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` with samples in rows: a 1-D array is one feature; 0-D and 3-D are refused."""
    if data.ndim == 1:
        return data[:, None]
    if data.ndim != 2:
        what = "a single value" if data.ndim == 0 else f"a {data.ndim}-D array"
        raise DataFileError(f"{name} holds {what} (shape {data.shape}), not a table of "
                            "samples in rows")
    return data


def one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (an OS error's reason and file)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split("\n")).strip() or type(exc).__name__
