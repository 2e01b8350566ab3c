"""Ingesting one source: every ready file -> raw layer -> validation -> clean table, or quarantine.

Per file, in one warehouse transaction: its rows go to raw_<source> as delivered (with file
hash and row number), the suite runs over each chunk, rejected rows go to ops_rejected_rows with
their failed checks, accepted rows replace any clean row with the same natural key, and the
outcome goes to ops_ingest_log. If the fast reader stops at damage inside a CSV (bytes that
are not UTF-8, a row with too many fields, a stream cut short), that transaction is rolled back
and the file read again line by line, so the damage rejects only the rows it is in. If the file
fails structurally (a cut-short file does) or rejects more rows than the suite's threshold, the
transaction is rolled back and redone in quarantine mode, where every row is kept in raw and
listed as rejected. So for every file, rows in = rows loaded + rows rejected. Only after the
commit is the file moved, so a crash at any point leaves either nothing or a logged file that
the next run just files away.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from glob import escape as glob_escape
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, Integer, select

from liftline import settings
from liftline.contract import SOURCES, Source
from liftline.contract import source as contract_source
from liftline.validate import (
    KEY_OCCURRENCE,
    KeyCounter,
    PreparedSuite,
    Suite,
    Verdict,
    load_suite,
    reference_column,
    referenced_columns,
    referenced_dimension,
    typed_frame,
)
from liftline.warehouse import (
    bulk_insert,
    clean_table,
    create_schema,
    get_engine,
    raw_table,
    read_frame,
    table,
    upsert_by_key,
)

from .landing import (
    LandedFile,
    ensure_layout,
    file_away,
    ready_files,
    refusal,
    relative,
    sha256_of,
    skipped_files,
    write_reason,
)
from .locking import source_claim, write_turn
from .reader import (
    MALFORMED_ROW,
    NOT_UTF8,
    ROW_NUMBER,
    TOO_MANY_FIELDS,
    TRUNCATED_ROW,
    Delivery,
    DeliveryError,
    Reading,
    open_delivery,
)

# Ingested first, so the referential checks of facts see this delivery's dimensions.
DIMENSION_SOURCES = ("stores", "products", "customers")
# Extracts that systems re-deliver whole (the promotion calendar, the store list): a row that
# arrives again unchanged keeps the lineage of the delivery that first brought it, so the
# feature build, which redoes the dates of rows new deliveries brought, is not sent back to
# the first promotion by every daily re-delivery of the calendar.
WHOLE_DELIVERY_SOURCES = ("promotions", "events", "lift_tests", *DIMENSION_SOURCES)
FILE_QUARANTINED = "file_quarantined"
_READER_CHECKS = (NOT_UTF8, TOO_MANY_FIELDS, TRUNCATED_ROW, MALFORMED_ROW)
EXAMPLE_ROWS = 20  # row numbers listed per check in a reason file
# One validation thread per process; chunks are checked one at a time, in order.
_CHECKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liftline-validate")

Log = Callable[[str], None]


@dataclass
class FileOutcome:
    """What happened to one delivery: the ops_ingest_log row, plus where the file went."""

    file_name: str
    sha256: str
    status: str  # loaded | partial | quarantined | duplicate
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    reason: str = ""
    filed_to: str = ""
    reason_file: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.file_name}: {self.status}, {self.rows_in:,} rows in, "
                f"{self.rows_loaded:,} loaded, {self.rows_rejected:,} rejected "
                f"({self.seconds:.1f}s){' - ' + self.reason if self.reason else ''}")


@dataclass
class SourceResult:
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changed_tables(self) -> list[str]:
        """Clean tables this run wrote rows to (the DAG emits an asset event for each)."""
        changed = any(f.rows_loaded > 0 for f in self.files)
        return [clean_table(self.source).name] if changed else []

    def to_dict(self) -> dict:
        return {"source": self.source, "files": [asdict(f) for f in self.files],
                "notes": list(self.notes), "changed_tables": self.changed_tables}

    def text(self) -> str:
        counts = Counter(f.status for f in self.files)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        return f"{self.source}: {len(self.files)} file(s){': ' + summary if summary else ''}"


def pending_sources(home: Path | None = None, settle_seconds: float = 60,
                    log: Log = print) -> list[str]:
    """Sources with at least one ready file in landing/, dimensions first.

    What in landing/ is not taken (hidden or temporary files, links, folders that are no
    source, files outside a source folder) is named to `log`, one line each.
    """
    home = home or settings.liftline_home()
    for skipped in skipped_files(home):
        log(skipped.line())
    ordered = list(DIMENSION_SOURCES) + [s for s in SOURCES if s not in DIMENSION_SOURCES]
    return [name for name in ordered if ready_files(home, name, settle_seconds)]


def ingest_source(
    source: str,
    *,
    home: Path | None = None,
    engine: Engine | None = None,
    run_id: str | None = None,
    run_url: str | None = None,
    settle_seconds: float = 60,
    log: Log = print,
) -> SourceResult:
    """Ingest every ready file of `source`, oldest first; see the module docstring."""
    src = contract_source(source)
    home = home or settings.liftline_home()
    engine = engine or get_engine()
    create_schema(engine)
    ensure_layout(home)
    suite = load_suite(src.name)
    result = SourceResult(src.name)
    # Listing, loading, moving and recording each file happen under the claim: a second run
    # waits here and then finds only files that arrived since (locking.py says why).
    with source_claim(engine, src.name, run_id, log) as waited:
        if waited:
            result.notes.append(f"{src.name}: waited {waited:.1f}s for another run's ingest of "
                                "it to finish; the files it filed were not ingested again")
        _ingest_ready_files(src, home, engine, suite, result, run_id, run_url, settle_seconds,
                            log)
    return result


def _ingest_ready_files(src: Source, home: Path, engine: Engine, suite: Suite,
                        result: SourceResult, run_id: str | None, run_url: str | None,
                        settle_seconds: float, log: Log) -> None:
    # Dimensions are ingested before facts, so their keys hold still while a source loads.
    known_keys = _known_dimension_keys(engine)
    for skipped in skipped_files(home, src.name):
        result.notes.append(f"{src.name}: {skipped.line()}")
        log(result.notes[-1])
    for landed in ready_files(home, src.name, settle_seconds):
        refused = refusal(home, landed.path)
        if refused is not None:  # replaced by a link since it was listed: not read
            result.notes.append(f"{src.name}: {refused.line()}")
            log(result.notes[-1])
            continue
        job = _FileJob(src, landed, home, engine, suite, known_keys, run_id, run_url, log)
        try:
            outcome = job.run()
        except OSError as exc:
            # Moved away or unreadable by this user: nothing was written; the next run retries.
            note = (f"{src.name}: {landed.path.name} left in landing/ ({exc.strerror or exc}); "
                    "check that the file is still there and readable")
            result.notes.append(note)
            log(note)
            continue
        result.files.append(outcome)
        log(f"{src.name}: {outcome.line()}")


class _FileRejected(Exception):
    """Raised inside the load transaction to roll it back: the file is quarantined whole."""

    def __init__(self, reason: str, checks: list[str] = ()):
        super().__init__(reason)
        self.reason, self.checks = reason, list(checks)


class _AlreadyIngested(Exception):
    """The same bytes were committed meanwhile, e.g. through another LIFTLINE_HOME sharing the
    warehouse (runs on one home are kept apart by the source claim)."""

    def __init__(self, prior: dict):
        super().__init__(prior["file_name"])
        self.prior = prior


@dataclass
class _Tally:
    """Counts of one pass over a file."""

    rows_in: int = 0
    rows_loaded: int = 0
    rejected_by_check: Counter = field(default_factory=Counter)
    warnings_by_check: Counter = field(default_factory=Counter)
    rejected_rows: set = field(default_factory=set)
    examples: dict[str, list] = field(default_factory=dict)  # check -> first row numbers
    columns: dict[str, str | None] = field(default_factory=dict)  # check -> column
    severities: dict[str, str] = field(default_factory=dict)
    rejected_text: list[pd.DataFrame] = field(default_factory=list)  # delivered rows, for a CSV
    structural: list[str] = field(default_factory=list)
    row_notes: dict[int, str] = field(default_factory=dict)  # row -> what the reader found
    verbatim: dict[int, dict[str, str]] = field(default_factory=dict)  # see Reading.verbatim

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected_rows)

    def checks_summary(self, counter: Counter) -> str:
        return ", ".join(f"{check} {n:,}" for check, n in counter.most_common(6))


class _FileJob:
    """Ingest one landed file (see the module docstring for the transaction design)."""

    def __init__(self, src: Source, landed: LandedFile, home: Path, engine: Engine, suite,
                 known_keys: dict[str, pd.Index], run_id: str | None, run_url: str | None,
                 log: Log):
        self.src, self.landed, self.home, self.engine = src, landed, home, engine
        self.suite, self.run_id, self.run_url, self.log = suite, run_id, run_url, log
        self.known_keys = known_keys
        self.file_name = landed.path.name
        self.loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        # Set when the suite is fitted to this delivery (_prepare_suite).
        self.skipped_checks: list[str] = []
        self.reference_columns: list[str] = []

    def run(self) -> FileOutcome:
        started = time.perf_counter()
        self.sha256 = sha256_of(self.landed.path)
        prior = self._prior_outcome()
        if prior is None:
            outcome = self._ingest()
        elif prior["archived_path"] is None and prior["file_name"] == self.file_name:
            outcome = self._finish_interrupted(prior)
        else:
            outcome = self._file_duplicate(prior)
        outcome.seconds = time.perf_counter() - started
        return outcome

    # --- the two passes ---------------------------------------------------------------------

    def _ingest(self) -> FileOutcome:
        try:
            delivery = open_delivery(self.landed.path, self.src)
        except DeliveryError as exc:
            return self._quarantine(None, f"{exc}", [exc.check])
        if delivery.file_fault is not None:  # e.g. cut short: quarantined, its rows kept
            return self._quarantine(delivery, str(delivery.file_fault), [delivery.file_fault.check])
        try:
            try:
                outcome, tally = self._load_and_log(delivery)
            except DeliveryError:
                if not delivery.can_read_line_by_line:
                    raise
                # Damage the fast reader stops at: read again line by line, so that it rejects
                # only the rows it is in.
                delivery = delivery.line_by_line()
                outcome, tally = self._load_and_log(delivery)
        except DeliveryError as exc:  # found mid-file in a Parquet file
            return self._quarantine(delivery, str(exc), [exc.check])
        except _FileRejected as rejected:
            return self._quarantine(delivery, rejected.reason, rejected.checks)
        except _AlreadyIngested as already:
            return self._file_duplicate(already.prior)
        self._file_accepted(outcome, tally)
        return outcome

    def _load_and_log(self, delivery: Delivery) -> tuple[FileOutcome, _Tally]:
        """The first pass, committed: the file's rows loaded or rejected, its outcome logged."""
        with write_turn(self.engine) as conn:
            prior = self._prior_outcome(conn)  # another run may have taken it meanwhile
            if prior is not None:
                raise _AlreadyIngested(prior)
            tally = _Tally()
            reading = self._load_rows(conn, delivery, tally, quarantine_reason=None)
            if reading.file_fault is not None:  # found at the end: a stream cut short
                raise _FileRejected(str(reading.file_fault), [reading.file_fault.check])
            reason = self._rejection_reason(tally)
            if reason:
                raise _FileRejected(reason, tally.structural)
            outcome = self._outcome(tally)
            self._log_outcome(conn, outcome)
        return outcome, tally

    def _load_rows(self, conn: Connection, delivery: Delivery, tally: _Tally,
                   quarantine_reason: str | None) -> Reading:
        """One pass: raw rows, validation, rejected rows and (unless quarantining) clean rows.

        Counts go to `tally` as each chunk is written, so they match the rows written even if
        the file turns out to be damaged further on.
        """
        reading = delivery.read()
        chunks = iter(reading)
        first = next(chunks)
        extra_numeric = self._extra_numeric(delivery, first)
        prepared = self._prepare_suite(delivery, extra_numeric)
        keys = KeyCounter(self.src.natural_key)
        for chunk in itertools.chain([first], chunks):
            tally.rows_in += len(chunk)
            # Validate in a second thread while this one writes the raw rows: SQLite and
            # psycopg release the GIL while they write, so the two overlap on a second core.
            checking = _CHECKER.submit(self._check_chunk, chunk, prepared, keys, extra_numeric)
            try:
                bulk_insert(conn, raw_table(self.src.name), self._raw_frame(chunk, delivery))
            except BaseException:
                wait([checking])  # never leave the thread working on a rolled-back file
                raise
            typed, verdict = checking.result()
            if verdict.file_failures:
                tally.structural = sorted(set(tally.structural) | set(verdict.file_failures))
                if quarantine_reason is None:
                    raise _FileRejected(self._structural_reason(delivery, verdict.file_failures),
                                        verdict.file_failures)
            row_checks = self._row_checks(verdict, chunk, tally)
            self._add_row_faults(reading, chunk, row_checks, tally)
            if quarantine_reason is not None:
                every_row = {row: row_checks.get(row, [FILE_QUARANTINED]) for row in chunk.index}
                self._write_rejected(conn, chunk, every_row, quarantine_reason, tally)
                continue
            self._write_rejected(conn, chunk, row_checks, None, tally)
            accepted = typed.loc[~typed.index.isin(list(row_checks))]
            tally.rows_loaded += self._write_clean(conn, accepted)
        return reading

    def _check_chunk(self, chunk: pd.DataFrame, prepared: PreparedSuite, keys: KeyCounter,
                     extra_numeric: list[str]) -> tuple[pd.DataFrame, Verdict]:
        typed = typed_frame(chunk, self.src, extra_numeric)
        # Keys compare as typed values: "2024-3-5" and "2024-03-05" are the same day.
        typed[KEY_OCCURRENCE] = keys.occurrences(typed)
        for name in self.reference_columns:
            typed[name] = reference_column(chunk, name, self.known_keys[referenced_dimension(name)])
        return typed, prepared.validate(typed)

    def _quarantine(self, delivery: Delivery | None, reason: str,
                    checks: list[str]) -> FileOutcome:
        """Keep every readable row in raw, list it as rejected, log and move the file."""
        try:
            outcome, tally = self._log_quarantined(delivery, reason)
        except DeliveryError:
            # Damage further on, in a CSV that failed for another reason first: read it line by
            # line, so the rows after the damage are kept too.
            outcome, tally = self._log_quarantined(delivery.line_by_line(), reason)
        filed = file_away(self.landed, self.home, "quarantine", self.sha256)
        outcome.filed_to = relative(filed, self.home)
        reason_file = write_reason(filed, self._reason_document(outcome, tally, checks))
        outcome.reason_file = relative(reason_file, self.home)
        self._update_filed_path(outcome)
        self._alert_quarantine(outcome, tally, checks)
        return outcome

    def _log_quarantined(self, delivery: Delivery | None,
                         reason: str) -> tuple[FileOutcome, _Tally]:
        tally = _Tally()
        with write_turn(self.engine) as conn:
            if delivery is not None:
                try:
                    self._load_rows(conn, delivery, tally, quarantine_reason=reason)
                except DeliveryError:
                    if delivery.can_read_line_by_line:
                        raise
                    # Damage in a Parquet file: the rows before it are kept.
            outcome = FileOutcome(self.file_name, self.sha256, "quarantined", tally.rows_in, 0,
                                  tally.rows_rejected, f"quarantined: {reason}",
                                  warnings=dict(tally.warnings_by_check))
            self._log_outcome(conn, outcome)
        return outcome, tally

    # --- per chunk --------------------------------------------------------------------------

    def _prepare_suite(self, delivery: Delivery,
                       extra_numeric: list[str]) -> PreparedSuite:
        parameters = self.suite.policy.date_bounds(self.landed.received_at)
        probe = typed_frame(pd.DataFrame(columns=list(delivery.columns)), self.src, extra_numeric)
        columns = set(probe.columns) | {KEY_OCCURRENCE}
        specs, notes = self.suite.for_delivery(columns, parameters, extra_numeric,
                                               dimensions_with_keys=set(self.known_keys))
        self.skipped_checks = notes
        self.reference_columns = sorted({column for spec in specs
                                         for column in referenced_columns(spec["kwargs"])
                                         if referenced_dimension(column)})
        return PreparedSuite(self.src.name, specs, parameters)

    def _extra_numeric(self, delivery: Delivery, first: pd.DataFrame) -> list[str]:
        """Free-form indicator columns (macro): extra columns with a number in the first chunk.

        An all-text extra column (a "source" or "frequency" note) is kept raw, not checked.
        """
        if not self.suite.policy.open_numeric_columns:
            return []
        return [c for c in delivery.extra_columns
                if pd.to_numeric(first[c], errors="coerce").notna().any()]

    def _raw_frame(self, chunk: pd.DataFrame, delivery: Delivery) -> pd.DataFrame:
        known = [c for c in delivery.columns if c in self.src.columns]
        raw = chunk[known].copy()
        if delivery.extra_columns:
            extra = chunk[list(delivery.extra_columns)]
            raw["_extra"] = extra.to_json(orient="records", lines=True).splitlines()
        raw[ROW_NUMBER] = chunk.index.to_numpy()
        raw["_file_sha256"] = self.sha256
        raw["_received_at"] = self.landed.received_at
        return raw.reset_index(drop=True)

    def _row_checks(self, verdict, chunk: pd.DataFrame, tally: _Tally) -> dict[int, list[str]]:
        """Row number -> its failed critical checks; warnings are only counted."""
        by_row: dict[int, list[str]] = {}
        for failure in verdict.row_failures:
            rows = [int(r) for r in failure.rows]
            tally.columns[failure.check] = failure.column
            tally.severities[failure.check] = failure.severity
            examples = tally.examples.setdefault(failure.check, [])
            examples.extend(rows[: EXAMPLE_ROWS - len(examples)])
            if failure.severity != "critical":
                tally.warnings_by_check[failure.check] += len(rows)
                continue
            tally.rejected_by_check[failure.check] += len(rows)
            for row in rows:
                by_row.setdefault(row, []).append(failure.check)
        return by_row

    def _add_row_faults(self, reading: Reading, chunk: pd.DataFrame,
                        row_checks: dict[int, list[str]], tally: _Tally) -> None:
        """Rows the reader could not read as they are (undecodable bytes, too many fields, cut
        off) are rejected for it, whatever the suite says of what was read."""
        if not reading.row_faults:
            return
        for row in chunk.index[chunk.index.isin(list(reading.row_faults))]:
            faults = reading.row_faults[row]
            checks = [fault.check for fault in faults]
            row_checks[row] = [*checks, *(c for c in row_checks.get(row, []) if c not in checks)]
            tally.row_notes[row] = "; ".join(fault.message for fault in faults)
            if row in reading.verbatim:
                tally.verbatim[row] = reading.verbatim[row]
            for check in checks:
                tally.rejected_by_check[check] += 1
                tally.severities[check] = "critical"
                tally.columns.setdefault(check, None)
                examples = tally.examples.setdefault(check, [])
                if len(examples) < EXAMPLE_ROWS:
                    examples.append(int(row))

    def _write_rejected(self, conn: Connection, chunk: pd.DataFrame,
                        row_checks: dict[int, list[str]], file_reason: str | None,
                        tally: _Tally) -> None:
        if not row_checks:
            return
        rows = sorted(row_checks)
        tally.rejected_rows.update(rows)
        details = [self._detail(chunk, row, row_checks[row], tally, file_reason) for row in rows]
        frame = pd.DataFrame({
            "file_sha256": self.sha256,
            "row_number": rows,
            "source": self.src.name,
            "checks": [json.dumps(row_checks[row]) for row in rows],
            "detail": details,
            "run_id": self.run_id,
        })
        bulk_insert(conn, table("ops_rejected_rows"), frame)
        if file_reason is None:
            delivered = chunk.loc[rows].astype(object)
            for row in set(rows) & set(tally.verbatim):  # as delivered, bytes and all
                for column, value in tally.verbatim[row].items():
                    delivered.at[row, column] = value
            delivered.insert(0, "_checks", [";".join(row_checks[row]) for row in rows])
            tally.rejected_text.append(delivered)

    def _detail(self, chunk: pd.DataFrame, row: int, checks: list[str], tally: _Tally,
                file_reason: str | None) -> str:
        parts = [tally.row_notes[row]] if row in tally.row_notes else []
        for check in checks:
            if row in tally.row_notes and check in _READER_CHECKS:
                continue  # said by the reader's note
            column = tally.columns.get(check)
            if column and column in chunk.columns:
                parts.append(f"{check}: {column}={_shown(chunk.at[row, column])}")
            elif check != FILE_QUARANTINED:
                parts.append(check)
        if file_reason is not None:
            parts.append(f"file quarantined: {file_reason}")
        return "; ".join(parts)[:2000]

    def _write_clean(self, conn: Connection, accepted: pd.DataFrame) -> int:
        if accepted.empty:
            return 0
        columns = [c for c in self.src.columns if c in accepted.columns]
        frame = accepted[columns].copy()
        if self.src.open_numeric_columns:
            frame = self._long_indicators(accepted)
            key = ["date", "country", "indicator"]
        else:
            key = list(self.src.natural_key)
            for column in key:  # absent optional key parts are NULL, and matched as NULL
                if column not in frame.columns:
                    frame[column] = None
        frame["_file_sha256"] = self.sha256
        frame["_row_number"] = frame.index.to_numpy()
        frame["_loaded_at"] = self.loaded_at
        if self.src.name in WHOLE_DELIVERY_SOURCES:
            frame = _without_unchanged_rows(conn, clean_table(self.src.name), frame, key)
        upsert_by_key(conn, clean_table(self.src.name), frame.reset_index(drop=True), key)
        return len(accepted)

    def _long_indicators(self, accepted: pd.DataFrame) -> pd.DataFrame:
        """macro: one row per date x country x indicator, dropping empty cells."""
        indicators = [c for c in accepted.columns
                      if c not in ("date", "country") and not c.startswith("_")
                      and not c.endswith("__unparsed")]
        # Internal names while melting: an indicator may itself be called "value".
        long = accepted[["date", "country", *indicators]].melt(
            id_vars=["date", "country"], var_name="__indicator", value_name="__value",
            ignore_index=False)
        long = long.rename(columns={"__indicator": "indicator", "__value": "value"})
        return long[long["value"].notna()]

    # --- outcomes ---------------------------------------------------------------------------

    def _rejection_reason(self, tally: _Tally) -> str | None:
        if not tally.rows_rejected:
            return None
        share = 100 * tally.rows_rejected / max(tally.rows_in, 1)
        threshold = self.suite.policy.row_threshold_pct
        if share <= threshold:
            return None
        return (f"{tally.rows_rejected:,} of {tally.rows_in:,} rows failed checks "
                f"({share:.1f}% > the {threshold:g}% threshold): "
                f"{tally.checks_summary(tally.rejected_by_check)}")

    def _structural_reason(self, delivery: Delivery, failures: list[str]) -> str:
        missing = [c for c in self.src.required if c not in delivery.columns]
        if not missing:
            return f"file-level check(s) failed: {', '.join(failures)}"
        reason = f"missing required column(s) {', '.join(missing)}"
        elsewhere = [name for name, other in SOURCES.items()
                     if name != self.src.name and _looks_like(delivery.columns, other)]
        separator = _other_delimiter(delivery.columns)
        if elsewhere:
            reason += (f"; its columns match {' or '.join(elsewhere)}: move the file to "
                       f"landing/{elsewhere[0]}/")
        elif separator:
            reason += (f"; the header is one column with {separator!r} in it: export the file "
                       "with commas between fields")
        else:
            reason += f"; the header has {', '.join(delivery.columns)[:300]}"
        return reason

    def _outcome(self, tally: _Tally) -> FileOutcome:
        status = "partial" if tally.rows_rejected else "loaded"
        parts = []
        if tally.rows_rejected:
            share = 100 * tally.rows_rejected / max(tally.rows_in, 1)
            parts.append(f"{tally.rows_rejected:,} of {tally.rows_in:,} rows rejected "
                         f"({share:.1f}%): {tally.checks_summary(tally.rejected_by_check)}")
        if tally.warnings_by_check:
            parts.append(f"warnings: {tally.checks_summary(tally.warnings_by_check)}")
        return FileOutcome(self.file_name, self.sha256, status, tally.rows_in, tally.rows_loaded,
                           tally.rows_rejected, "; ".join(parts),
                           warnings=dict(tally.warnings_by_check))

    def _file_accepted(self, outcome: FileOutcome, tally: _Tally) -> None:
        filed = file_away(self.landed, self.home, "archive", self.sha256)
        outcome.filed_to = relative(filed, self.home)
        if tally.rows_rejected:
            # The file is archived; its rejected rows and their reasons go to quarantine/.
            spot = _side_spot(self.home, self.src.name, filed.name, self.sha256)
            rows_csv = spot.with_name(spot.name + ".rejected.csv")
            # surrogateescape: bytes that were not UTF-8 are written back as delivered.
            pd.concat(tally.rejected_text).to_csv(rows_csv, index_label=ROW_NUMBER,
                                                  errors="surrogateescape")
            document = self._reason_document(outcome, tally, [])
            document["rejected_rows_file"] = relative(rows_csv, self.home)
            outcome.reason_file = relative(write_reason(spot, document), self.home)
        self._update_filed_path(outcome)

    def _finish_interrupted(self, prior: dict) -> FileOutcome:
        """A run committed this file but stopped before filing it: file it now, as it would have.

        The warehouse already holds its rows; the outcome repeats the logged counts, so its
        clean table is reported as changed (and its asset event emitted) by this run.
        """
        quarantined = prior["status"] == "quarantined"
        filed = file_away(self.landed, self.home, "quarantine" if quarantined else "archive",
                          self.sha256)
        outcome = FileOutcome(self.file_name, self.sha256, prior["status"],
                              int(prior["rows_in"] or 0), int(prior["rows_loaded"] or 0),
                              int(prior["rows_rejected"] or 0), prior["reason"] or "",
                              filed_to=relative(filed, self.home))
        document = {"file": self.file_name, "source": self.src.name, "sha256": self.sha256,
                    "status": prior["status"], "reason": prior["reason"],
                    "rows_in": outcome.rows_in, "rows_loaded": outcome.rows_loaded,
                    "rows_rejected": outcome.rows_rejected,
                    "note": "filed by a later run: the run that loaded it stopped before",
                    "rows_in_warehouse": (f"raw_{self.src.name} and ops_rejected_rows where "
                                          f"file_sha256 = '{self.sha256}'")}
        if quarantined or outcome.rows_rejected:
            spot = filed if quarantined else _side_spot(self.home, self.src.name, filed.name,
                                                        self.sha256)
            outcome.reason_file = relative(write_reason(spot, document), self.home)
        self._update_filed_path(outcome)
        if quarantined:
            self._alert_quarantine(outcome, _Tally(), [])
        return outcome

    def _file_duplicate(self, prior: dict) -> FileOutcome:
        """The same bytes were ingested before: file them beside the first copy, change nothing."""
        area = "quarantine" if prior["status"] == "quarantined" else "archive"
        filed = file_away(self.landed, self.home, area, self.sha256)
        reason = (f"duplicate of {prior['file_name']} (same SHA-256), {prior['status']} "
                  f"{_when(prior['received_at'])}: nothing changed")
        outcome = FileOutcome(self.file_name, self.sha256, "duplicate", reason=reason,
                              filed_to=relative(filed, self.home))
        write_reason(filed, {"file": self.file_name, "source": self.src.name,
                             "sha256": self.sha256, "status": "duplicate", "reason": reason,
                             "first_delivery": prior})
        return outcome

    def _reason_document(self, outcome: FileOutcome, tally: _Tally, checks: list[str]) -> dict:
        def described(counter: Counter) -> list[dict]:
            return [{"check": check, "severity": tally.severities.get(check, "critical"),
                     "column": tally.columns.get(check), "rows": n,
                     "first_rows": tally.examples.get(check, [])} for check, n in
                    counter.most_common()]

        return {
            "file": self.file_name,
            "source": self.src.name,
            "sha256": self.sha256,
            "status": outcome.status,
            "reason": outcome.reason,
            "received_at": self.landed.received_at.isoformat(),
            "decided_at": self.loaded_at.isoformat(),
            "rows_in": outcome.rows_in,
            "rows_loaded": outcome.rows_loaded,
            "rows_rejected": outcome.rows_rejected,
            "row_threshold_pct": self.suite.policy.row_threshold_pct,
            "file_checks_failed": sorted(set(checks) | set(tally.structural)),
            "row_checks_failed": described(tally.rejected_by_check),
            "warnings": described(tally.warnings_by_check),
            "skipped_checks": self.skipped_checks,
            "rows_in_warehouse": (f"raw_{self.src.name} and ops_rejected_rows where "
                                  f"file_sha256 = '{self.sha256}'"),
            "what_to_do": (f"fix the export and drop the corrected file into landing/"
                           f"{self.src.name}/; rows already loaded are replaced by natural key"),
            "suite": str(self.suite.path),
        }

    # --- warehouse bookkeeping --------------------------------------------------------------

    def _prior_outcome(self, conn: Connection | None = None) -> dict | None:
        log_table = table("ops_ingest_log")
        query = select(log_table).where(log_table.c.file_sha256 == self.sha256)
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).mappings().first()
        return dict(row) if row else None

    def _log_outcome(self, conn: Connection, outcome: FileOutcome) -> None:
        frame = pd.DataFrame([{
            "file_sha256": self.sha256, "source": self.src.name, "file_name": self.file_name,
            "rows_in": outcome.rows_in, "rows_loaded": outcome.rows_loaded,
            "rows_rejected": outcome.rows_rejected, "status": outcome.status,
            "reason": outcome.reason[:4000] or None, "received_at": self.landed.received_at,
            "archived_path": None, "run_id": self.run_id,
        }])
        upsert_by_key(conn, table("ops_ingest_log"), frame, ["file_sha256"])

    def _update_filed_path(self, outcome: FileOutcome) -> None:
        # After the move: where the file is now. A crash before this leaves the old value,
        # and the file is still found by its hash in archive/ or quarantine/.
        log_table = table("ops_ingest_log")
        with self.engine.begin() as conn:
            conn.execute(log_table.update()
                         .where(log_table.c.file_sha256 == self.sha256)
                         .values(archived_path=outcome.filed_to))

    def _alert_quarantine(self, outcome: FileOutcome, tally: _Tally, checks: list[str]) -> None:
        from liftline.alerts import record_alert

        failed = sorted(set(checks) | set(tally.structural)) or list(tally.rejected_by_check)
        record_alert(
            self.engine,
            kind="data_quality",
            entity_key=f"{self.src.name}/{self.file_name}",
            severity="warning",
            title=f"{self.src.name} delivery {self.file_name} quarantined",
            details={
                "source": self.src.name,
                "file": self.file_name,
                "rows_in": outcome.rows_in,
                "rows_rejected": outcome.rows_rejected,
                "failed_checks": failed[:10],
                "reason": outcome.reason[:500],
                "quarantine_path": outcome.filed_to,
                "reason_file": outcome.reason_file,
                "action": (f"Fix the export and drop the corrected file into landing/"
                           f"{self.src.name}/. Why it was rejected: {outcome.reason_file}"),
            },
            state=f"quarantined:{self.sha256[:12]}",
            run_id=self.run_id,
            link=self.run_url,
        )


def _known_dimension_keys(engine: Engine) -> dict[str, pd.Index]:
    """The keys of each dimension with rows in its clean table (others are left out)."""
    known = {}
    with engine.connect() as conn:
        for dimension in DIMENSION_SOURCES:
            clean = clean_table(dimension)
            key = clean.c[SOURCES[dimension].natural_key[0]]
            values = conn.execute(select(key).distinct()).scalars().all()
            if values:
                known[dimension] = pd.Index(values, dtype="str")
    return known


def _side_spot(home: Path, source: str, name: str, sha256: str) -> Path:
    """Where an archived file's rejected rows and reason go in quarantine/, clear of the names
    an earlier delivery of the same name already uses there."""
    folder = home / "quarantine" / source
    spot = folder / name
    if any(folder.glob(f"{glob_escape(name)}*")):
        spot = folder / f"{name}.{sha256[:12]}"
    return spot


def _other_delimiter(columns: tuple[str, ...]) -> str | None:
    """The delimiter a one-column header seems to use instead of commas (";" or "|")."""
    if len(columns) != 1:
        return None
    return next((d for d in (";", "|") if d in columns[0]), None)


def _looks_like(columns: tuple[str, ...], other: Source) -> bool:
    """Whether a header plainly belongs to `other`: all its required columns, and mostly its."""
    named = sum(column in other.columns for column in columns)
    return set(other.required) <= set(columns) and named >= 0.8 * len(columns)


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _when(value) -> str:
    return f"received {value:%Y-%m-%d %H:%M} UTC" if isinstance(value, dt.datetime) else ""


def _without_unchanged_rows(conn: Connection, clean, frame: pd.DataFrame,  # noqa: ANN001
                            key: list[str]) -> pd.DataFrame:
    """The rows of `frame` that are new or differ from the clean row of the same key in some
    contract column (these sources are small: the clean table is read whole)."""
    values = [c for c in frame.columns if not c.startswith("_") and c not in key]
    existing = read_frame(conn, select(*(clean.c[c] for c in [*key, *values])))
    if existing.empty:
        return frame
    joined = frame.reset_index(drop=True).merge(
        existing.drop_duplicates(subset=key, keep="last"), on=key, how="left",
        suffixes=("", "__old"), indicator=True)
    changed = (joined["_merge"] == "left_only").to_numpy(copy=True)
    for column in values:
        numeric = isinstance(clean.c[column].type, Float | Integer)
        changed |= ~_same_values(joined[column], joined[f"{column}__old"], numeric)
    return frame.reset_index(drop=True).loc[changed]


def _same_values(new: pd.Series, old: pd.Series, numeric: bool) -> np.ndarray:
    """Elementwise equality with missing equal to missing, numbers within rounding, dates by
    day, everything else as text (ids are strings: "0100" is not "100")."""
    both_missing = new.isna().to_numpy() & old.isna().to_numpy()
    if numeric:
        same = np.isclose(pd.to_numeric(new, errors="coerce").to_numpy(float),
                          pd.to_numeric(old, errors="coerce").to_numpy(float),
                          rtol=1e-9, atol=0.0, equal_nan=False)
        return both_missing | same
    same = new.map(_as_text).to_numpy(object) == old.map(_as_text).to_numpy(object)
    return both_missing | same


def _as_text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
