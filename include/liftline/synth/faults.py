"""Bad deliveries for `--faults`: what source systems really send now and then.

Every fault is an extra delivery file beside the good ones, built from copies of real rows of
the world, so the world's truth is unchanged whatever the pipeline keeps or rejects. Each is
listed in _truth/faults.json with its file, kind, the 1-based data rows that are bad (header
not counted) and what a correct pipeline does with it: quarantine those rows, or the file (whose
readable rows are kept in raw and listed as rejected all the same).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from liftline.synth.dimensions import rng_for

ROW_THRESHOLD_PCT = 5.0  # the contract's default: above this share of bad rows, the file goes


def read_as_text(path: Path) -> pd.DataFrame:
    """An extract as strings, whatever its format ('' for missing)."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        return frame.astype(object).where(frame.notna(), "").astype(str)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _sample(out: Path, source: str, n: int, rng) -> pd.DataFrame | None:
    files = sorted((out / source).glob(f"{source}_*"))
    if not files:
        return None
    frame = read_as_text(files[0])
    if len(frame) == 0:
        return None
    take = rng.choice(len(frame), size=min(n, len(frame)), replace=False)
    return frame.iloc[sorted(take)].reset_index(drop=True)


def _save(out: Path, source: str, name: str, frame: pd.DataFrame) -> Path:
    path = out / source / name
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def inject_faults(out: Path, window, fmt: str, seed: int) -> list[dict]:
    rng = rng_for(seed, "faults")
    tag = window.last.isoformat()
    faults: list[dict] = []

    def record(source, path, kind, rows, expect, detail):
        faults.append({"id": len(faults) + 1, "source": source,
                       "file": str(path.relative_to(out)), "kind": kind,
                       "rows": [int(r) for r in rows], "expect": expect, "detail": detail,
                       "new_file": True})

    def corrupt_rows(source, kind, n, bad, mutate, detail):
        frame = _sample(out, source, n, rng)
        if frame is None:
            return
        rows = sorted(rng.choice(len(frame), size=min(bad, len(frame)), replace=False))
        for i, r in enumerate(rows):
            mutate(frame, r, i)
        share = 100 * len(rows) / len(frame)
        expect = "file_quarantined" if share > ROW_THRESHOLD_PCT else "rows_quarantined"
        path = _save(out, source, f"{source}_{tag}_fault_{kind}.csv", frame)
        record(source, path, kind, [r + 1 for r in rows], expect, detail)

    # Duplicate rows: the POS system resent a few lines within one file.
    pos = _sample(out, "pos", 200, rng)
    if pos is not None:
        dup_of = sorted(rng.choice(len(pos), size=6, replace=False))
        frame = pd.concat([pos, pos.iloc[dup_of]], ignore_index=True)
        path = _save(out, "pos", f"pos_{tag}_fault_duplicate_rows.csv", frame)
        record("pos", path, "duplicate_rows", range(len(pos) + 1, len(frame) + 1),
               "rows_quarantined", "exact copies of 6 earlier rows (same natural key)")

    def null_cell(frame, r, i):
        frame.loc[r, "spend" if i % 2 else "campaign_id"] = ""
    corrupt_rows("spend", "null_required", 300, 7, null_cell,
                 "spend or campaign_id left empty")

    def wrong_type(frame, r, i):
        frame.loc[r, "units" if i % 2 else "revenue"] = "n/a" if i % 2 else "12,5O"
    corrupt_rows("pos", "wrong_types", 200, 5, wrong_type, "text where a number belongs")

    def negative(frame, r, i):
        frame.loc[r, "amount"] = "-" + frame.loc[r, "amount"]
    corrupt_rows("erp", "negative_amounts", 300, 5, negative, "invoice amounts below zero")

    def bad_stage(frame, r, i):
        frame.loc[r, "stage"] = ["Won", "Closed - Won", "Pending", "Lost Forever"][i % 4]
    corrupt_rows("crm", "unknown_stage", 200, 4, bad_stage, "stage not in the CRM's list")

    def bad_date(frame, r, i):
        frame.loc[r, "date"] = "1999-12-31" if i % 2 else "2099-06-01"
    corrupt_rows("spend", "out_of_range_dates", 200, 5, bad_date,
                 "dates before 2000 or far beyond the planning horizon")

    corrupt_rows("erp", "mostly_negative", 100, 20, negative,
                 "20% of rows bad: above the 5% threshold, the whole file is rejected")

    # Renamed columns: an export template changed. Structural: the file is rejected whole.
    spend = _sample(out, "spend", 100, rng)
    if spend is not None:
        renamed = spend.rename(columns={"spend": "amount_spent", "channel": "media_channel"})
        path = _save(out, "spend", f"spend_{tag}_fault_renamed_columns.csv", renamed)
        record("spend", path, "renamed_columns", [], "file_quarantined",
               "required columns spend and channel missing (renamed amount_spent, media_channel)")

    # Truncated transfers: a CSV cut mid-line, and a gzip stream cut short.
    pos = _sample(out, "pos", 500, rng)
    if pos is not None:
        path = out / "pos" / f"pos_{tag}_fault_truncated.csv"
        data = pos.to_csv(index=False, lineterminator="\n").encode()
        cut = int(len(data) * 0.6)
        while data[cut - 1 : cut] in (b"\n", b","):
            cut += 1  # make sure the cut lands inside a field
        # ...and before the row's last field: a cut inside the last field leaves a shorter but
        # complete-looking row, which no reader can tell from a file without a final newline.
        line_start, line_end = data.rfind(b"\n", 0, cut) + 1, data.find(b"\n", cut)
        if data.find(b",", cut, line_end) == -1:
            cut = data.rfind(b",", line_start, cut)
        path.write_bytes(data[:cut])
        # The row cut in two is rejected for it; the file, incomplete, is quarantined whole.
        record("pos", path, "truncated", [data[:cut].count(b"\n")], "file_quarantined",
               f"transfer stopped after {cut} of {len(data)} bytes, mid-line")
    erp = _sample(out, "erp", 400, rng)
    if erp is not None:
        path = out / "erp" / f"erp_{tag}_fault_truncated.csv.gz"
        data = gzip.compress(erp.to_csv(index=False, lineterminator="\n").encode(), mtime=0)
        path.write_bytes(data[: len(data) // 2])
        record("erp", path, "truncated", [], "file_quarantined",
               "gzip stream cut in half: unreadable")
    return faults
