"""Ingest test helpers: drop deliveries into landing/, ingest them, check the books balance."""

from __future__ import annotations

import os
import time
import zlib
from pathlib import Path

from sqlalchemy import Engine

from liftline.ingest import SourceResult, ingest_source
from liftline.warehouse import read_frame

SETTLED = 300  # seconds: deliveries are back-dated so the 60 s settle rule lets them through


def deliver(home: Path, source: str, name: str, content: str | bytes, age: float = SETTLED) -> Path:
    """Write a delivery into landing/<source>/ as if it had arrived `age` seconds ago."""
    path = home / "landing" / source / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    landed = time.time() - age
    os.utime(path, (landed, landed))
    return path


def ingest(home: Path, engine: Engine, source: str, **kwargs) -> SourceResult:
    return ingest_source(source, home=home, engine=engine, log=lambda _: None, **kwargs)


def ingest_log(engine: Engine):
    return read_frame(engine, "SELECT * FROM ops_ingest_log ORDER BY received_at, file_name")


def assert_reconciles(engine: Engine) -> None:
    """rows_in = rows_loaded + rows_rejected per file, and every rejected row has its reason."""
    log = ingest_log(engine)
    assert (log.rows_in == log.rows_loaded + log.rows_rejected).all(), log
    rejected = read_frame(
        engine,
        "SELECT file_sha256, COUNT(*) AS n, SUM(CASE WHEN checks = '[]' OR checks IS NULL "
        "THEN 1 ELSE 0 END) AS without_reason FROM ops_rejected_rows GROUP BY file_sha256",
    )
    counts = dict(zip(rejected.file_sha256, rejected.n, strict=True))
    for sha, n_rejected in zip(log.file_sha256, log.rows_rejected, strict=True):
        assert counts.get(sha, 0) == n_rejected, sha
    assert (rejected.without_reason == 0).all()


def data_lines(path: Path) -> int:
    """Non-blank lines after the header in a delivered CSV (a .csv.gz as far as it inflates,
    cut short or not), counted on the bytes, without the reader under test."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = zlib.decompressobj(wbits=31).decompress(data)
    lines = [line for line in data.replace(b"\r\n", b"\n").split(b"\n") if line.strip()]
    return max(len(lines) - 1, 0)


def assert_every_line_accounted_for(engine: Engine, delivered: dict[str, Path]) -> None:
    """Per file (by name): its data lines = rows loaded + rows in ops_rejected_rows."""
    log = ingest_log(engine).set_index("file_name")
    rejected = read_frame(engine, "SELECT file_sha256, COUNT(*) AS n FROM ops_rejected_rows "
                                  "GROUP BY file_sha256")
    listed = dict(zip(rejected.file_sha256, rejected.n, strict=True))
    for name, path in delivered.items():
        entry = log.loc[name]
        lines = data_lines(path)
        assert entry.rows_in == lines, (name, entry.rows_in, lines, entry.reason)
        assert entry.rows_loaded + listed.get(entry.file_sha256, 0) == lines, (name, entry.reason)
