"""SQL is built only with bound parameters: ids that look like SQL, format strings or driver
placeholders go through every extract source as data. The tables stay intact and the ids are
stored verbatim in raw_<source> and clean_<source> (or, if a check rejected their row, the row is
in ops_rejected_rows and its ids verbatim in raw_<source>). On SQLite always, on PostgreSQL when
LIFTLINE_TEST_POSTGRES_URL is set (the `engine` fixture gives each test its own schema)."""

from __future__ import annotations

import csv
import io

import pytest
from ingest_helpers import deliver, ingest
from sqlalchemy import inspect

from liftline.contract import DATE, FLOAT, INT, SOURCES, STRING, TIMESTAMP
from liftline.warehouse import read_frame

HOSTILE_IDS = [
    "x'; DROP TABLE clean_pos;--",
    "Robert'); DROP TABLE raw_pos; --",
    "x' OR '1'='1",
    'double"quote',
    "back\\slash\\",
    "ünïcödé ☃ 中文 🚀",
    "%s",
    "%(id)s",
    ":param",
    "?",
    "$1",
    "semi;colon, comma",
    "line\nbreak",
    "{0}{{}}",
]
# Values of the columns that must hold something specific to pass their checks.
FIXED = {("crm", "stage"): "Proposal", ("service", "satisfaction_rating"): "3",
         ("promotions", "discount_pct"): "10"}
SAMPLE = {DATE: "2024-03-01", TIMESTAMP: "2024-03-01T10:00:00", FLOAT: "1", INT: "1"}


def hostile_extract(name: str) -> str:
    """A CSV of `name` with every text column of row i holding HOSTILE_IDS[i]."""
    src = SOURCES[name]
    columns = list(src.columns)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(columns)
    for value in HOSTILE_IDS:
        writer.writerow([FIXED.get((name, c)) or (value if src.columns[c] == STRING
                                                  else SAMPLE[src.columns[c]])
                         for c in columns])
    return out.getvalue()


def text_columns(name: str) -> list[str]:
    return [c for c, kind in SOURCES[name].columns.items() if kind == STRING
            and (name, c) not in FIXED]


def count(engine, table: str) -> int:
    return int(read_frame(engine, f"SELECT COUNT(*) AS n FROM {table}").n[0])


@pytest.mark.parametrize("name", list(SOURCES))
def test_hostile_ids_are_stored_verbatim_and_break_nothing(home, engine, name):
    before = set(inspect(engine).get_table_names())
    deliver(home, name, f"{name}.csv", hostile_extract(name))
    outcome = ingest(home, engine, name).files[0]
    assert outcome.rows_in == len(HOSTILE_IDS), outcome.reason
    assert set(inspect(engine).get_table_names()) >= before  # nothing dropped
    raw = read_frame(engine, f"SELECT * FROM raw_{name}").set_index("_row_number")
    clean = read_frame(engine, f"SELECT * FROM clean_{name}")
    rejected = set(read_frame(engine, "SELECT row_number FROM ops_rejected_rows").row_number)
    assert outcome.rows_loaded + len(rejected) == len(HOSTILE_IDS)
    for column in text_columns(name):
        assert sorted(raw[column]) == sorted(HOSTILE_IDS), column  # every row, verbatim
        kept = [v for i, v in enumerate(HOSTILE_IDS, start=1) if i not in rejected]
        assert sorted(clean[column].dropna().unique()) == sorted(kept), column
    assert count(engine, "ops_ingest_log") == 1


def test_every_source_loaded_together_leaves_every_table_whole(home, engine):
    for name in SOURCES:
        deliver(home, name, f"{name}.csv", hostile_extract(name))
    for name in SOURCES:
        ingest(home, engine, name)
    for name in SOURCES:
        assert count(engine, f"raw_{name}") == len(HOSTILE_IDS), name
    assert count(engine, "clean_pos") == len(HOSTILE_IDS)
    assert count(engine, "ops_ingest_log") == len(SOURCES)
