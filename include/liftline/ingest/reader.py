"""Reading one delivery as chunks of text, whatever its format, or saying why it cannot be read.

CSV, CSV.gz and Parquet are all read as text (the raw layer keeps values as delivered; typing is
validation's job). Column names are matched to the contract case-insensitively. A file that
cannot be read at all (empty, binary, an unreadable Parquet, a header that is no CSV header, a
column named twice) raises `DeliveryError`, which quarantines the whole file.

Damage inside a CSV costs only the rows it is in, so every delivered line is accounted for: a
CSV with bytes that are not UTF-8, a row with more fields than the header, or a transfer cut
short is read line by line (`Delivery.line_by_line`, slower, so only for damaged files). Each
row is then either read or marked with its `RowFault` (byte offset, field counts), and a cut-short
file also gets a `file_fault`, which quarantines it with its complete rows.
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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import pandas as pd

from liftline.contract import DATE, EXTRACT_SUFFIXES, Source
from liftline.validate import blank_to_missing

CHUNK_ROWS = 250_000  # GX's fixed cost per chunk is ~0.4 s; ~150 MB of text per chunk
ROW_NUMBER = "_row_number"
HEAD_BYTES = 64 * 1024
# Row faults found by the line-by-line reader (the check names of rows in ops_rejected_rows).
NOT_UTF8, TOO_MANY_FIELDS, TRUNCATED_ROW = "not_utf8", "too_many_fields", "truncated_row"
MALFORMED_ROW = "malformed_row"
# Undecodable bytes, as Python's surrogateescape decoding represents them (one per byte).
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


class DeliveryError(Exception):
    """The file cannot be read as a delivery; `check` names the structural problem."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check


@dataclass(frozen=True)
class RowFault:
    """Why one delivered row could not be read as it is: `check` names it in ops_rejected_rows."""

    check: str
    message: str


@dataclass(frozen=True)
class Delivery:
    """A readable delivery: its columns (contract names where they match) and its rows."""

    path: Path
    fmt: str
    columns: tuple[str, ...]  # as mapped, in file order
    extra_columns: tuple[str, ...]  # not named by the contract: kept raw, ignored downstream
    chunk_rows: int = CHUNK_ROWS
    types: dict[str, str] = field(default_factory=dict)  # contract column -> logical type
    lenient: bool = False  # read line by line: damage rejects its row, not the rest
    # Found on opening, the file is quarantined for it, but its rows can still be read.
    file_fault: DeliveryError | None = field(default=None, compare=False)

    @property
    def can_read_line_by_line(self) -> bool:
        return self.fmt != ".parquet" and not self.lenient

    def line_by_line(self) -> Delivery:
        """This delivery read line by line, for damage the fast reader stops at."""
        return replace(self, lenient=True)

    def read(self) -> Reading:
        """One pass over the rows; see `Reading`."""
        return Reading(self)

    def chunks(self) -> Iterator[pd.DataFrame]:
        return iter(self.read())

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


class Reading:
    """One pass over a delivery: its text chunks (blanks missing), indexed by 1-based data row
    number (header not counted), and what was wrong with single rows or the file, known for
    every row of a chunk by the time the chunk is yielded.

    A file without rows yields one empty chunk, so its header is still validated.
    """

    def __init__(self, delivery: Delivery):
        self.delivery = delivery
        self.row_faults: dict[int, list[RowFault]] = {}
        # Rows with undecodable bytes as delivered (bytes as surrogate escapes): the chunks
        # hold them with U+FFFD, which a database can store; a CSV of rejected rows writes
        # these back byte for byte.
        self.verbatim: dict[int, dict[str, str]] = {}
        self.file_fault: DeliveryError | None = delivery.file_fault

    def __iter__(self) -> Iterator[pd.DataFrame]:
        delivery = self.delivery
        if delivery.fmt == ".parquet":
            reader = delivery._parquet_chunks()
        elif delivery.lenient:
            reader = _LineReader(delivery, self).chunks()
        else:
            reader = delivery._csv_chunks()
        first_row, yielded = 1, False
        for raw in reader:
            raw.columns = list(delivery.columns)
            raw.index = pd.RangeIndex(first_row, first_row + len(raw), name=ROW_NUMBER)
            first_row += len(raw)
            yielded = True
            yield raw.apply(blank_to_missing) if len(raw.columns) else raw
        if not yielded:
            empty = pd.DataFrame({name: pd.Series(dtype="str") for name in delivery.columns})
            yield empty.set_axis(pd.RangeIndex(1, 1, name=ROW_NUMBER))


def open_delivery(path: Path, src: Source, chunk_rows: int = CHUNK_ROWS) -> Delivery:
    """Check `path` can be read as a delivery of `src` and map its column names."""
    fmt = delivery_format(path)
    if fmt is None:
        raise DeliveryError("unsupported_format", f"{path.name} is not .csv, .csv.gz or "
                            ".parquet: export it in one of those formats")
    if path.stat().st_size == 0:
        raise DeliveryError("empty_file", "the file is empty (0 bytes), with no header: "
                            "deliver it again")
    lenient, fault = False, None
    if fmt == ".parquet":
        header = _parquet_header(path)
    else:
        head = _csv_head(path, fmt)
        header, fault = head.header, head.fault
        lenient = head.damaged or (fmt == ".csv" and _cut_mid_row(path, header))
    columns = _map_columns(header, src)
    extra = tuple(c for c in columns if c not in src.columns)
    return Delivery(path, fmt, columns, extra, chunk_rows, dict(src.columns), lenient, fault)


def delivery_format(path: Path) -> str | None:
    """The extract suffix of `path` (case-insensitive), or None if it is not one we read."""
    name = path.name.lower()
    return next((suffix for suffix in sorted(EXTRACT_SUFFIXES, key=len, reverse=True)
                 if name.endswith(suffix)), None)


@dataclass(frozen=True)
class _Head:
    header: list[str]
    damaged: bool  # undecodable bytes or a broken stream seen: read the file line by line
    fault: DeliveryError | None  # the header itself is damaged: the file is quarantined


def _csv_head(path: Path, fmt: str) -> _Head:
    with _open_bytes(path, fmt) as stream:
        head = stream.read(HEAD_BYTES)
    if stream.broken and not head:
        raise DeliveryError("unreadable", f"unreadable ({stream.broken}): the transfer was "
                            "probably cut short; deliver the file again")
    if not head.strip():
        raise DeliveryError("empty_file", "the file has no header row: deliver it again")
    if b"\x00" in head:
        raise DeliveryError("binary", "the file is binary, not CSV text: export it as UTF-8 CSV")
    decoded = head.decode("utf-8", errors="surrogateescape")
    text = decoded.removeprefix("\ufeff")
    if len(head) == HEAD_BYTES and not re.search(r"[\r\n]", text):
        raise DeliveryError("malformed_csv", "the header row is longer than 64 KiB: is this a "
                            "CSV with one record per line?")
    try:
        # newline=None: \r\n, \n and old Mac \r line ends alike, as pandas reads them.
        header = next(csv.reader(io.StringIO(text, newline=None)), [])
    except csv.Error as exc:
        raise DeliveryError("malformed_csv", f"malformed CSV header: {exc}") from None
    # A multi-byte character cut by the 64 KiB read is not damage.
    complete = text if len(head) < HEAD_BYTES else text[:-4]
    damaged = bool(stream.broken or _UNDECODABLE.search(complete))
    fault = None
    if any(_UNDECODABLE.search(name) for name in header):
        offset = _byte_offset(decoded, _UNDECODABLE.search(decoded).start())
        fault = DeliveryError(NOT_UTF8, f"the header row is not UTF-8 text (byte {offset:,}): "
                              "re-export the file as UTF-8 CSV")
        header = [_printable(name) for name in header]
    elif stream.broken:
        fault = _cut_short(stream.broken, len(head))
    return _Head(header, damaged, fault)


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


def _cut_mid_row(path: Path, header: list[str]) -> bool:
    """Whether a plain CSV stops mid-row (no final newline, too few fields): cut in transfer."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - HEAD_BYTES))
        tail = handle.read()
    if tail.endswith((b"\n", b"\r")):
        return False
    last_line = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    fields = next(csv.reader(io.StringIO(last_line)), [])
    return len(fields) < len(header)


def _open_bytes(path: Path, fmt: str) -> _UpToDamage:
    """The delivered text as bytes (decompressed), up to any break in the stream."""
    return _UpToDamage(gzip.open(path, "rb") if fmt == ".csv.gz" else open(path, "rb"))  # noqa: SIM115


class _UpToDamage(io.RawIOBase):
    """A byte stream that ends where its source breaks (a gzip stream cut short or corrupt),
    saying why in `broken`, so everything before the break can still be read."""

    def __init__(self, source: IO[bytes]):
        self.source, self.broken = source, ""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        if self.broken:
            return 0
        try:
            # read1: one read of the source, so a break loses nothing read before it.
            data = self.source.read1(len(buffer))
        except _STREAM_ERRORS as exc:
            self.broken = _first_line(exc)
            return 0
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all with -1), fewer only at the end or the break."""
        parts, wanted = [], size
        while wanted != 0:
            block = super().read(wanted if wanted > 0 else 1 << 20)
            if not block:
                break
            parts.append(block)
            wanted = wanted - len(block) if wanted > 0 else wanted
        return b"".join(parts)

    def close(self) -> None:
        self.source.close()
        super().close()


class _LineReader:
    """A damaged CSV read record by record with Python's csv module: rows with undecodable
    bytes, more fields than the header, or cut off by the end of the file are read as far as
    they go and marked in the `Reading`; the rest are read as the fast reader would."""

    def __init__(self, delivery: Delivery, reading: Reading):
        self.delivery, self.reading = delivery, reading
        self.offset = 0  # bytes of text consumed so far
        self.first_bad: int | None = None  # offset of the first undecodable byte of a record
        self.newline_at_end = True
        self.stream: _UpToDamage | None = None

    def chunks(self) -> Iterator[pd.DataFrame]:
        delivery = self.delivery
        width = len(delivery.columns)
        self.stream = _open_bytes(delivery.path, delivery.fmt)
        text = io.TextIOWrapper(io.BufferedReader(self.stream), encoding="utf-8",
                                errors="surrogateescape", newline="")
        with text:
            records = csv.reader(self._lines(text))
            next(records, None)  # the header, mapped when the delivery was opened
            rows: list[list[str]] = []
            number, last = 0, None
            while True:
                self.first_bad = None
                try:
                    record = next(records, None)
                except csv.Error as exc:  # e.g. a field over csv's size limit: the row is lost
                    record, error = [], f"unreadable row: {exc}"
                else:
                    if record is None:
                        break
                    if not record:
                        continue  # a blank line is no row, as for the fast reader
                    error = ""
                number += 1
                last = record
                rows.append(self._fitted(number, record, width))
                if error:
                    self.reading.row_faults.setdefault(number, []).append(
                        RowFault(MALFORMED_ROW, error))
                if len(rows) > delivery.chunk_rows:  # keep the last row: it may be cut off
                    yield pd.DataFrame(rows[:-1], dtype="str")
                    rows = rows[-1:]
            self._mark_cut_off(number, last, width)
            if rows:
                yield pd.DataFrame(rows, dtype="str")

    def _lines(self, text: io.TextIOWrapper) -> Iterator[str]:
        for line in text:
            first = self.offset == 0
            if line.isascii():  # most lines: one byte per character, nothing undecodable
                self.offset += len(line)
            else:
                bad = _UNDECODABLE.search(line)
                if bad and self.first_bad is None:
                    self.first_bad = self.offset + _byte_offset(line, bad.start())
                self.offset += len(line.encode("utf-8", errors="surrogateescape"))
            self.newline_at_end = line.endswith(("\n", "\r"))
            yield line.removeprefix("\ufeff") if first else line

    def _fitted(self, number: int, record: list[str], width: int) -> list[str]:
        """The record as `width` text fields, its faults noted."""
        if self.first_bad is None and len(record) == width:
            return record  # most rows of a damaged file are whole
        faults = []
        if self.first_bad is not None:
            self.reading.verbatim[number] = dict(zip(self.delivery.columns, record, strict=False))
            record = [_printable(value) for value in record]
            faults.append(RowFault(NOT_UTF8, f"not UTF-8 text at byte {self.first_bad:,} of the "
                                   "file: re-export it as UTF-8"))
        if len(record) > width:
            extra = ", ".join(repr(v[:20]) for v in record[width:][:3])
            faults.append(RowFault(TOO_MANY_FIELDS, f"{len(record)} fields where the header has "
                                   f"{width} (extra: {extra}): a stray delimiter?"))
        if faults:
            self.reading.row_faults[number] = faults
        return (record + [""] * width)[:width]

    def _mark_cut_off(self, number: int, last: list[str] | None, width: int) -> None:
        """A file that ends mid-row, or whose stream breaks off, was cut short in transfer."""
        broken = self.stream.broken if self.stream else ""
        cut_row = last is not None and not self.newline_at_end and (broken or len(last) < width)
        if cut_row:
            self.reading.row_faults.setdefault(number, []).append(RowFault(
                TRUNCATED_ROW, f"the file ends in this row, after {len(last)} of {width} fields: "
                "the transfer was cut short"))
        if broken:
            self.reading.file_fault = _cut_short(broken, self.offset)
        elif cut_row:
            self.reading.file_fault = DeliveryError(
                "truncated", f"the file ends in the middle of a row ({len(last)} of {width} "
                "fields): the transfer was cut short; deliver it again")


def _cut_short(broken: str, offset: int) -> DeliveryError:
    return DeliveryError("truncated", f"the compressed stream breaks off ({broken}) after "
                         f"{offset:,} bytes of text: the transfer was cut short; deliver it again")


def _byte_offset(text: str, position: int) -> int:
    """The byte offset of character `position` of surrogate-escaped `text`."""
    return len(text[:position].encode("utf-8", errors="surrogateescape"))


def _printable(value: str) -> str:
    """Undecodable bytes as U+FFFD: text a database can store."""
    return _UNDECODABLE.sub("\ufffd", value)


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
