"""Read a table from CSV or Parquet into a DataFrame, with clear errors for bad files.

CSV files are checked in one streaming pass before pandas reads them: the encoding (UTF-8,
UTF-8 with BOM, UTF-16 with BOM, else Windows-1252 when the file has no UTF-8 sequences at all),
the delimiter (sniffed among ``, ; TAB |``), duplicate column names, and rows whose field count
differs from the header's, each reported with its line number.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from automl.exceptions import DatasetError

NA_VALUES = ["", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "#N/A", "<NA>"]
DELIMITERS = ",;\t|"
_SNIFF_BYTES = 64 * 1024
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "utf-16": "UTF-16", "cp1252": "Windows-1252"}


def read_table(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """A DataFrame from a path (CSV or Parquet) or a DataFrame (copied)."""
    if isinstance(source, pd.DataFrame):
        return _check_frame(source.copy())
    path = Path(source)
    if not path.is_file():
        raise DatasetError(f"file not found: {path}", {"path": str(path)})
    head = _head(path)
    if head.startswith(b"PAR1"):
        return _check_frame(_read_parquet(path))
    encoding = detect_encoding(path, head)
    delimiter = sniff_delimiter(head.decode(encoding, errors="replace"))
    n_rows = check_csv(path, encoding, delimiter)
    if n_rows == 0:
        raise DatasetError(f"{path.name} has a header but no data rows; add rows below the header")
    frame = pd.read_csv(
        path, sep=delimiter, encoding=encoding, na_values=NA_VALUES, keep_default_na=False,
        skipinitialspace=True, low_memory=False,
    )
    return _check_frame(frame)


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's values and column names."""
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise DatasetError(f"{path.name} is empty; upload a CSV with a header row and data rows")
    if head.startswith(b"PK\x03\x04"):
        raise DatasetError(
            f"{path.name} is a zip archive (an Excel workbook?), not a CSV; export it as CSV"
        )
    if head.lstrip()[:1] in (b"{", b"["):
        raise DatasetError(
            f"{path.name} looks like JSON, not CSV; upload a comma-separated file with a header row"
        )
    return head


def detect_encoding(path: Path, head: bytes) -> str:
    """The file's text encoding; raises on binary files and on broken UTF-8."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        raise DatasetError(
            f"{path.name} is a binary file, not a CSV; upload a comma-separated text file"
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    has_utf8_sequences, offset, lines_before = False, 0, 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                if not (has_utf8_sequences or _has_multibyte(exc.object[: exc.start])):
                    return "cp1252"
                raise _undecodable(exc, "UTF-8", offset + len(chunk), lines_before) from None
            has_utf8_sequences = has_utf8_sequences or _has_multibyte(chunk)
            offset += len(chunk)
            lines_before += chunk.count(b"\n")
    return "utf-8-sig"


def _undecodable(exc: UnicodeDecodeError, encoding: str, read: int, lines_before: int
                 ) -> DatasetError:
    """The 400 for the byte ``exc`` stopped at, placed in the file: ``read`` bytes were read
    when it was raised, ``lines_before`` lines before the bytes it was decoding (an incremental
    decoder's error counts from the start of the bytes it held back, not of the file)."""
    offset = read - len(exc.object) + exc.start
    before = exc.object[: exc.start].decode(exc.encoding, "replace")
    line_no = lines_before + before.count("\n") + 1
    return DatasetError(
        f"line {line_no}: byte 0x{exc.object[exc.start]:02x} is not valid {encoding} "
        f"({exc.reason}); re-save the file as UTF-8",
        {"line": line_no, "byte_offset": offset, "encoding": encoding},
    )


def _decoding_error(path: Path, encoding: str) -> DatasetError:
    """:func:`_undecodable` for the first byte of ``path`` that ``encoding`` cannot decode."""
    shown = _ENCODING_NAMES.get(encoding, encoding)
    decoder = codecs.getincrementaldecoder(encoding)()
    read, lines = 0, 0
    with open(path, "rb") as fh:
        for chunk in chain(iter(lambda: fh.read(1 << 20), b""), [b""]):  # b"": the end
            read += len(chunk)
            try:
                lines += decoder.decode(chunk, final=not chunk).count("\n")
            except UnicodeDecodeError as exc:
                return _undecodable(exc, shown, read, lines)
    return DatasetError(f"the file is not valid {shown} text; re-save the file as UTF-8",
                        {"encoding": shown})


def _has_multibyte(data: bytes) -> bool:
    return not data.isascii()


def sniff_delimiter(sample: str) -> str:
    """The field delimiter of a CSV sample; a comma when the sample is ambiguous."""
    lines = sample.splitlines()[:50]
    if len(lines) > 1 and not sample.endswith("\n"):
        lines = lines[:-1]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def check_csv(path: Path, encoding: str, delimiter: str) -> int:
    """Validate the header and every row's field count; return the number of data rows."""
    counted = _count_even_rows(path, encoding, delimiter)
    if counted is not None:
        return counted
    rows = _csv_rows(path, encoding, delimiter)
    line_no, header = next(rows, (0, []))
    header = [h.strip() for h in header]
    _check_header(header, path)
    n_rows = 0
    for line_no, row in rows:
        if len(row) != len(header):
            raise DatasetError(
                f"line {line_no} has {len(row)} fields but the header has {len(header)}; "
                "fix that row (an unquoted delimiter inside a value?)",
                {"line": line_no, "fields": len(row), "expected": len(header)},
            )
        n_rows += 1
    return n_rows


def _count_even_rows(path: Path, encoding: str, delimiter: str, min_rows: int = 1000) -> int | None:
    """The number of data rows, counted without a Python loop, when the header is on the first
    line and every row has its field count or is empty; ``None`` when a row needs the closer
    look of the full check (which says which line is wrong) or the file is small."""
    try:
        with open(path, encoding=encoding, newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            lengths = np.fromiter(map(len, reader), dtype=np.int64)
    except csv.Error:
        return None
    except UnicodeDecodeError:  # counted from the reader's last chunk: placed in the file
        raise _decoding_error(path, encoding) from None
    n_rows = int((lengths == len(header)).sum())
    if not any(header) or n_rows < min_rows or n_rows + int((lengths == 0).sum()) != len(lengths):
        return None
    _check_header(header, path)
    return n_rows


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            for row in reader:
                if row and any(cell.strip() for cell in row):
                    yield reader.line_num, row
        except csv.Error as exc:
            raise DatasetError(
                f"line {reader.line_num}: {exc}; check the quoting in that row",
                {"line": reader.line_num},
            ) from None


def _check_header(header: list[str], path: Path) -> None:
    if not header or not any(header):
        raise DatasetError(f"{path.name} has no header row; the first line must name the columns")
    seen, dups = set(), []
    for name in header:
        if name in seen and name not in dups:
            dups.append(name)
        seen.add(name)
    if dups:
        raise DatasetError(
            f"duplicate column names: {', '.join(map(repr, dups))}; give every column a unique name",
            {"duplicates": dups},
        )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise DatasetError(f"{path.name} is not a readable Parquet file: {exc}") from None


def _check_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.shape[1] == 0:
        raise DatasetError("the table has no columns")
    if frame.shape[0] == 0:
        raise DatasetError("the table has a header but no data rows; add rows below the header")
    if frame.columns.duplicated().any():
        dups = sorted(set(frame.columns[frame.columns.duplicated()].map(str)))
        raise DatasetError(f"duplicate column names: {', '.join(dups)}", {"duplicates": dups})
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_text_csv(text: str) -> pd.DataFrame:
    """A DataFrame from CSV text held in memory (small inputs: tests, single requests)."""
    return pd.read_csv(io.StringIO(text), na_values=NA_VALUES, keep_default_na=False)
