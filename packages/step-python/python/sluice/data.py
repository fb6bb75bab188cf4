"""Step inputs: paths with helpers to list and read them."""

from __future__ import annotations

import csv
import os
import re
import sys
from typing import Dict, List, Union

Value = Union[str, int, float]

_DELIMITED = (".csv", ".tsv", ".txt")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class InputDataset(os.PathLike):
    """A step input, usable wherever a path is (``open(dataset)``, ``os.path.join(dataset, ...)``)."""

    def __init__(self, name: str, path: str, mode: str) -> None:
        self.name = name
        self.path = path
        self.mode = mode

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return "InputDataset(name={!r}, path={!r}, mode={!r})".format(self.name, self.path, self.mode)

    def files(self) -> List[str]:
        """The input's files: the file itself, or every file under the folder, sorted."""
        if os.path.isfile(self.path):
            return [self.path]
        if not os.path.isdir(self.path):
            raise FileNotFoundError("Input {!r} has no file or folder at {}".format(self.name, self.path))
        found = []
        for root, _dirs, names in os.walk(self.path):
            found.extend(os.path.join(root, name) for name in names)
        return sorted(found)

    def to_records(self) -> List[Dict[str, Value]]:
        """Rows of the delimited file(s), each a dict keyed by the header; numbers become int or float."""
        records = []
        for path in self._delimited_files():
            with open(path, newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle, delimiter=_delimiter(path, handle))
                records.extend({key: _parse(value) for key, value in row.items()} for row in reader)
        return records

    def to_pandas_dataframe(self):
        """The delimited file(s) as one pandas DataFrame (needs pandas in this interpreter)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "to_pandas_dataframe() needs pandas, which is not installed in this Python interpreter ({}). "
                "Install pandas there, point the step Environment's python.interpreter at a Python that has it, "
                "or use to_records() instead.".format(sys.executable)
            ) from None
        frames = []
        for path in self._delimited_files():
            with open(path, newline="", encoding="utf-8-sig") as handle:
                frames.append(pandas.read_csv(handle, sep=_delimiter(path, handle)))
        if not frames:
            return pandas.DataFrame()
        return pandas.concat(frames, ignore_index=True)

    def _delimited_files(self) -> List[str]:
        if os.path.isfile(self.path):
            return [self.path]
        return [path for path in self.files() if path.lower().endswith(_DELIMITED)]


def _delimiter(path: str, handle) -> str:
    """Comma for .csv, tab for .tsv; otherwise sniffed from the start of the file (comma if unsure)."""
    extension = os.path.splitext(path)[1].lower()
    if extension == ".csv":
        return ","
    if extension == ".tsv":
        return "\t"
    sample = handle.read(64 * 1024)
    handle.seek(0)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;|").delimiter
    except csv.Error:
        return ","


def _parse(value):
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if text == "":
        return None
    return value
