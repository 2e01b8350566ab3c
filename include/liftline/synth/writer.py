"""Writes extracts the way source systems deliver them: CSV, CSV.gz or Parquet, byte-stable.

Big time-series sources are split into one file per calendar month (clipped to the slice) and
appended to chunk by chunk, so a medium world streams to disk without being held in memory.
"""

from __future__ import annotations

import gzip
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liftline.contract import DATE, FLOAT, INT, SOURCES, STRING, TIMESTAMP

SUFFIX = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}
ARROW_TYPES = {STRING: pa.string(), DATE: pa.date32(), TIMESTAMP: pa.timestamp("s"),
               FLOAT: pa.float64(), INT: pa.int64()}


def extract_columns(source: str) -> list[str]:
    return list(SOURCES[source].columns)


def file_name(source: str, first: date, last: date, fmt: str) -> str:
    return f"{source}_{first.isoformat()}_{last.isoformat()}{SUFFIX[fmt]}"


def to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Render dates as ISO dates, timestamps as ISO 8601, whole floats without '.0'."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S")
        elif s.dtype == object and isinstance(next(iter(s.dropna()), None), date):
            out[col] = s.map(lambda v: v.isoformat() if isinstance(v, date) else v)
    return out


class ExtractWriter:
    """Open extract files of one generation run; `close()` finalises them."""

    def __init__(self, out_dir: Path, fmt: str):
        self.out_dir, self.fmt = Path(out_dir), fmt
        self._handles: dict[Path, object] = {}
        self.rows: dict[str, int] = {}
        self.files: dict[str, list[Path]] = {}

    def write(self, source: str, frame: pd.DataFrame, first: date, last: date) -> None:
        """Append `frame` (contract columns only) to the file covering [first, last]."""
        cols = extract_columns(source)
        frame = frame.reindex(columns=cols)
        path = self.out_dir / source / file_name(source, first, last, self.fmt)
        if path not in self._handles:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handles[path] = self._open(path, source, cols)
            self.files.setdefault(source, []).append(path)
        self._append(self._handles[path], source, frame, cols)
        self.rows[source] = self.rows.get(source, 0) + len(frame)

    def write_monthly(self, source: str, frame: pd.DataFrame, date_col: str,
                      first: date, last: date) -> None:
        """Split `frame` by calendar month of `date_col`; each month is its own delivery."""
        if frame.empty:
            return
        month = frame[date_col].astype(str).str.slice(0, 7)
        for key, part in frame.groupby(month.to_numpy(), sort=True):
            period = pd.Period(key, freq="M")
            m_first = max(first, period.start_time.date())
            m_last = min(last, period.end_time.date())
            self.write(source, part, m_first, m_last)

    def _open(self, path: Path, source: str, cols: list[str]):
        if self.fmt == "parquet":
            types = SOURCES[source].columns
            schema = pa.schema([(c, ARROW_TYPES[types[c]]) for c in cols])
            return pq.ParquetWriter(path, schema)
        raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        stream = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") \
            if self.fmt == "csv.gz" else raw
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        text.write(",".join(cols) + "\n")
        return (raw, stream, text)

    def _append(self, handle, source: str, frame: pd.DataFrame, cols: list[str]) -> None:
        if self.fmt == "parquet":
            handle.write_table(self._arrow_table(source, frame, cols, handle.schema))
            return
        to_text(frame).to_csv(handle[2], header=False, index=False, lineterminator="\n")

    @staticmethod
    def _arrow_table(source, frame, cols, schema) -> pa.Table:
        types = SOURCES[source].columns
        arrays = {}
        for c in cols:
            s = frame[c]
            if types[c] == DATE:
                s = pd.to_datetime(s).dt.date
            elif types[c] == TIMESTAMP:
                s = pd.to_datetime(s)
            elif types[c] == STRING:
                s = s.astype(object).where(s.notna(), None)
            elif types[c] == FLOAT:
                s = pd.to_numeric(s).astype("float64")
            elif types[c] == INT:
                s = pd.to_numeric(s).astype("Int64")
            arrays[c] = s
        return pa.Table.from_pandas(pd.DataFrame(arrays), schema=schema, preserve_index=False)

    def close(self) -> None:
        for handle in self._handles.values():
            if self.fmt == "parquet":
                handle.close()
            else:
                raw, stream, text = handle
                text.close()  # closes the gzip stream and file beneath it
                if not raw.closed:
                    raw.close()
        self._handles.clear()
