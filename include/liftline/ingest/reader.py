"""Reading one delivery as chunks of text, whatever its format, or saying why it cannot be read.

CSV, CSV.gz and Parquet are all read as text (the raw layer keeps values as delivered; typing is
validation's job). Column names are matched to the contract case-insensitively. A file whose
structure is wrong (empty, binary, not UTF-8, cut short, a row with too many fields,
a column named twice) raises `DeliveryError`, which quarantines the whole file.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from liftline.contract import DATE, EXTRACT_SUFFIXES, Source
from liftline.validate import blank_to_missing

CHUNK_ROWS = 250_000  # GX's fixed cost per chunk is ~0.4 s; ~150 MB of text per chunk
ROW_NUMBER = "_row_number"


class DeliveryError(Exception):
    """The file cannot be read as a delivery; `check` names the structural problem."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class Delivery:
    """A readable delivery: its columns (contract names where they match) and its rows."""

    path: Path
    fmt: str
    columns: tuple[str, ...]  # as mapped, in file order
    extra_columns: tuple[str, ...]  # not named by the contract: kept raw, ignored downstream
    chunk_rows: int = CHUNK_ROWS
    types: dict[str, str] = field(default_factory=dict)  # contract column -> logical type

    def chunks(self) -> Iterator[pd.DataFrame]:
        """Text chunks (blanks missing), indexed by 1-based data row number (header not counted).

        A file without rows yields one empty chunk, so its header is still validated.
        """
        reader = self._parquet_chunks() if self.fmt == ".parquet" else self._csv_chunks()
        first_row, yielded = 1, False
        for raw in reader:
            raw.columns = list(self.columns)
            raw.index = pd.RangeIndex(first_row, first_row + len(raw), name=ROW_NUMBER)
            first_row += len(raw)
            yielded = True
            yield raw.apply(blank_to_missing) if len(raw.columns) else raw
        if not yielded:
            empty = pd.DataFrame({name: pd.Series(dtype="str") for name in self.columns})
            yield empty.set_axis(pd.RangeIndex(1, 1, name=ROW_NUMBER))

    def _csv_chunks(self) -> Iterator[pd.DataFrame]:
        try:
            with warnings.catch_warnings():
                # index_col=False: a first row with an extra field must not become an index
                # (shifting every column); pandas warns instead, which is an error here.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                reader = pd.read_csv(
                    self.path, dtype=str, keep_default_na=False, chunksize=self.chunk_rows,
                    encoding="utf-8-sig", compression="gzip" if self.fmt == ".csv.gz" else None,
                    header=0, names=list(self.columns), skip_blank_lines=True, index_col=False,
                )
                with reader:
                    yield from reader
        except UnicodeDecodeError as exc:
            raise DeliveryError("not_utf8", f"not UTF-8 text near byte {exc.start}: re-export "
                                "the file as UTF-8 CSV") from None
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise DeliveryError("unreadable", f"unreadable ({_first_line(exc)}): the transfer "
                                "was probably cut short; deliver the file again") from None
        except pd.errors.ParserError as exc:
            raise DeliveryError("malformed_csv", f"malformed CSV: {_first_line(exc)}") from None
        except pd.errors.ParserWarning:
            raise DeliveryError("malformed_csv", "malformed CSV: a row has more fields than the "
                                "header (a trailing comma?): fix the export") from None

    def _parquet_chunks(self) -> Iterator[pd.DataFrame]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
            for batch in parquet.iter_batches(batch_size=self.chunk_rows):
                # Column by column from Arrow, ignoring pandas metadata: an index saved with
                # the frame is a column like any other here.
                yield pd.DataFrame({
                    mapped: _arrow_text(batch.column(position), self.types.get(mapped))
                    for position, mapped in enumerate(self.columns)
                })
        except (pa.ArrowException, OSError) as exc:
            raise DeliveryError("unreadable", f"unreadable Parquet ({_first_line(exc)}): "
                                "deliver the file again") from None


def open_delivery(path: Path, src: Source, chunk_rows: int = CHUNK_ROWS) -> Delivery:
    """Check `path` can be read as a delivery of `src` and map its column names."""
    fmt = delivery_format(path)
    if fmt is None:
        raise DeliveryError("unsupported_format", f"{path.name} is not .csv, .csv.gz or "
                            ".parquet: export it in one of those formats")
    if path.stat().st_size == 0:
        raise DeliveryError("empty_file", "the file is empty (0 bytes), with no header: "
                            "deliver it again")
    if fmt == ".parquet":
        header = _parquet_header(path)
    else:
        header = _csv_header(path, fmt)
        if fmt == ".csv":
            _require_not_truncated(path, header)
    columns = _map_columns(header, src)
    extra = tuple(c for c in columns if c not in src.columns)
    return Delivery(path, fmt, columns, extra, chunk_rows, dict(src.columns))


def delivery_format(path: Path) -> str | None:
    """The extract suffix of `path` (case-insensitive), or None if it is not one we read."""
    name = path.name.lower()
    return next((suffix for suffix in sorted(EXTRACT_SUFFIXES, key=len, reverse=True)
                 if name.endswith(suffix)), None)


def _csv_header(path: Path, fmt: str) -> list[str]:
    opener = gzip.open if fmt == ".csv.gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DeliveryError("unreadable", f"unreadable ({_first_line(exc)}): the transfer was "
                            "probably cut short; deliver the file again") from None
    if not head.strip():
        raise DeliveryError("empty_file", "the file has no header row: deliver it again")
    if b"\x00" in head:
        raise DeliveryError("binary", "the file is binary, not CSV text: export it as UTF-8 CSV")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte character cut by our 64 KiB read
            raise DeliveryError("not_utf8", f"not UTF-8 text near byte {exc.start}: re-export "
                                "the file as UTF-8 CSV") from None
        text = head[: exc.start].decode("utf-8-sig")
    if len(head) == 64 * 1024 and not re.search(r"[\r\n]", text):
        raise DeliveryError("malformed_csv", "the header row is longer than 64 KiB: is this a "
                            "CSV with one record per line?")
    try:
        # newline=None: \r\n, \n and old Mac \r line ends alike, as pandas reads them.
        return next(csv.reader(io.StringIO(text, newline=None)), [])
    except csv.Error as exc:
        raise DeliveryError("malformed_csv", f"malformed CSV header: {exc}") from None


def _parquet_header(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        raise DeliveryError("unreadable", f"unreadable Parquet ({_first_line(exc)}): deliver "
                            "the file again") from None


def _map_columns(header: list[str], src: Source) -> tuple[str, ...]:
    by_lower = {name.lower(): name for name in src.columns}
    mapped = []
    for position, name in enumerate(header, start=1):
        # "Store ID", "store-id" and "STORE_ID" all name store_id.
        clean = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
        if not clean:
            raise DeliveryError("unnamed_column", f"column {position} of the header has no name: "
                                "name it or remove it")
        mapped.append(by_lower.get(clean, clean))
    repeated = sorted({name for name in mapped if mapped.count(name) > 1})
    if repeated:
        raise DeliveryError("duplicate_columns", f"the header names {', '.join(repeated)} more "
                            "than once (column names are case-insensitive): keep one of each")
    return tuple(mapped)


def _require_not_truncated(path: Path, header: list[str]) -> None:
    """A plain CSV that stops mid-row (no final newline, too few fields) was cut in transfer."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 64 * 1024))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")):
        return
    last_line = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    fields = next(csv.reader(io.StringIO(last_line)), [])
    if len(fields) < len(header):
        raise DeliveryError("truncated", f"the file ends in the middle of a row ({len(fields)} of "
                            f"{len(header)} fields): the transfer was cut short; deliver it again")


def _arrow_text(column, logical: str | None) -> pd.Series:
    """One Arrow column as text: ints without ".0", offsets kept, dates stored as timestamps
    at midnight as plain dates (the contract's DATE columns expect YYYY-MM-DD)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type) and logical == DATE:
        # A safe cast fails on a real time of day: left as text, the date check says so.
        with contextlib.suppress(pa.ArrowInvalid):
            column = pc.cast(column, pa.date32())
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    return pd.Series(text.to_pandas(), dtype="str")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
