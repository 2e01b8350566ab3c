"""Every line of a delivered file is accounted for, whatever is wrong with it: the data lines of
the file = rows loaded + rows in ops_rejected_rows, each rejected row with its reason."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from ingest_helpers import (
    assert_every_line_accounted_for,
    assert_reconciles,
    data_lines,
    deliver,
    ingest,
)

from liftline.warehouse import read_frame

HEADER = "date,store_id,sku,units,revenue\n"


def good_rows(n: int, start: int = 0) -> str:
    return "".join(f"2024-03-01,ST-1,SKU-{i},1,{i}.5\n" for i in range(start, start + n))


LATIN1_ROW = "2024-03-01,Caf\xe9 Nord,SKU-X,1,1\n".encode("latin-1")
CUT_ROW = b"2024-03-02,ST-1,SK"
BEFORE_LATIN1 = (HEADER + good_rows(30)).encode()

# name -> (delivered bytes, expected status)
FAULTS = {
    "cut_short.csv": ((HEADER + good_rows(30)).encode() + CUT_ROW, "quarantined"),
    "cut_in_quotes.csv": ((HEADER + good_rows(30)).encode() + b'2024-03-02,"ST-1', "quarantined"),
    "not_utf8_middle.csv": (BEFORE_LATIN1 + LATIN1_ROW + good_rows(30, 30).encode(), "partial"),
    "not_utf8_and_cut.csv": (BEFORE_LATIN1 + LATIN1_ROW + good_rows(5, 30).encode() + CUT_ROW,
                             "quarantined"),
    "all_latin1.csv": (HEADER.encode() + LATIN1_ROW * 3, "quarantined"),
    "header_not_utf8.csv": ("date,st\xf6re_id,sku,units,revenue\n".encode("latin-1")
                            + good_rows(3).encode(), "quarantined"),
    "too_many_fields.csv": ((HEADER + good_rows(30) + "2024-03-01,ST-1,SKU-Y,1,1,oops\n"
                             + good_rows(10, 30)).encode(), "partial"),
    "empty.csv": (b"", "quarantined"),
    "header_only.csv": (HEADER.encode(), "loaded"),
    "semicolons.csv": (b"date;store_id;sku;units;revenue\n2024-03-01;ST-1;A;1;2,5\n"
                       b"2024-03-01;ST-1;B;1;3\n", "quarantined"),
    "cut_short.csv.gz": (gzip.compress((HEADER + good_rows(3000)).encode())[:9000],
                         "quarantined"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_data_line_is_loaded_or_rejected(home, engine, name, tmp_path):
    content, status = FAULTS[name]
    path = deliver(home, "pos", name, content)
    lines = data_lines(path)
    outcome = ingest(home, engine, "pos").files[0]
    assert outcome.status == status, outcome.reason
    assert outcome.rows_in == lines and outcome.rows_loaded + outcome.rows_rejected == lines
    # Counted again from the delivered bytes, now filed away.
    filed = home / outcome.filed_to
    assert filed.read_bytes() == content  # kept verbatim, undecodable bytes and all
    assert_every_line_accounted_for(engine, {name: filed})
    assert_reconciles(engine)
    raw = read_frame(engine, "SELECT COUNT(*) AS n FROM raw_pos")
    assert raw.n[0] == lines  # every row read is in the raw layer


def rejected(engine) -> pd.DataFrame:
    frame = read_frame(engine, "SELECT row_number, checks, detail FROM ops_rejected_rows "
                               "ORDER BY row_number")
    frame["checks"] = frame.checks.map(json.loads)
    return frame.set_index("row_number")


def test_a_file_cut_short_keeps_its_complete_rows_and_rejects_the_cut_one(home, engine):
    deliver(home, "pos", "cut.csv", *FAULTS["cut_short.csv"][:1])
    outcome = ingest(home, engine, "pos").files[0]
    assert outcome.status == "quarantined" and "cut short" in outcome.reason
    rows = rejected(engine)
    assert rows.loc[31, "checks"][0] == "truncated_row"  # and the checks of what it lacks
    assert "after 3 of 5 fields" in rows.loc[31, "detail"]
    assert all(checks == ["file_quarantined"] for checks in rows.loc[1:30, "checks"])
    assert read_frame(engine, "SELECT COUNT(*) AS n FROM clean_pos").n[0] == 0
    document = json.loads((home / outcome.reason_file).read_text())
    assert document["file_checks_failed"] == ["truncated"]
    assert document["row_checks_failed"][0]["first_rows"] == [31]


def test_undecodable_bytes_reject_their_row_with_the_byte_offset(home, engine):
    content = FAULTS["not_utf8_middle.csv"][0]
    deliver(home, "pos", "pos.csv", content)
    outcome = ingest(home, engine, "pos").files[0]
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("partial", 60, 1)
    offset = content.index(b"\xe9")
    row = rejected(engine).loc[31]
    assert row.checks == ["not_utf8"] and f"byte {offset:,}" in row.detail
    # The raw layer holds text a database can store; the rejected rows' CSV the bytes as sent.
    raw = read_frame(engine, "SELECT store_id FROM raw_pos WHERE _row_number = 31")
    assert raw.store_id[0] == "Caf\ufffd Nord"
    document = json.loads((home / outcome.reason_file).read_text())
    assert b"Caf\xe9 Nord" in (home / document["rejected_rows_file"]).read_bytes()


def test_a_row_with_too_many_fields_is_rejected_alone(home, engine):
    deliver(home, "pos", "pos.csv", FAULTS["too_many_fields.csv"][0])
    outcome = ingest(home, engine, "pos").files[0]
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("partial", 40, 1)
    row = rejected(engine).loc[31]
    assert row.checks == ["too_many_fields"] and "6 fields where the header has 5" in row.detail


def test_a_semicolon_file_says_which_delimiter_it_uses(home, engine):
    deliver(home, "pos", "pos.csv", FAULTS["semicolons.csv"][0])
    outcome = ingest(home, engine, "pos").files[0]
    assert "one column with ';' in it" in outcome.reason


def test_a_gzip_cut_short_keeps_what_inflates(home, engine):
    deliver(home, "pos", "pos.csv.gz", FAULTS["cut_short.csv.gz"][0])
    outcome = ingest(home, engine, "pos").files[0]
    assert outcome.status == "quarantined" and "breaks off" in outcome.reason
    assert outcome.rows_in > 100
    assert rejected(engine).checks.map(lambda c: "truncated_row" in c).sum() <= 1
