"""What one `liftline run` did, read back from the warehouse by the run ids of its DAG runs.

Every row a run writes carries its DAG run's `run_id`, so the summary needs nothing from
Airflow: files ingested (`ops_ingest_log`), alerts raised and how their delivery went
(`ops_alerts`), models trained and whether they were promoted (`ml_model_registry`). Problems
(quarantined files, alerts that did not reach Slack) are named in the first line, so a run
whose DAGs all succeeded still says plainly when someone has to act. What ingest left in
`landing/` on purpose (hidden and temporary files, links it refused, folders that are no
source) is named too, read from `landing/` itself: it stays there, so it is there after the run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, inspect, select

from liftline.alerts import DELIVERED, FAILED, NOT_CONFIGURED, PENDING
from liftline.ingest import SkippedFile, skipped_files
from liftline.warehouse import table

FILE_STATUSES = ("loaded", "partial", "quarantined")  # in the order they are reported
LISTED_FILES = 10  # problem files listed by name; the rest are counted
REASON_CHARS = 120

# ml_model_registry.status as a reader would say it: registry statuses first, then the
# statuses stages wrote before the registry (promoted / not_promoted / trained).
MODEL_STATUS_LABELS = {
    "champion": "promoted to champion",
    "promoted": "promoted",
    "challenger": "not promoted, the champion keeps scoring",
    "not_promoted": "not promoted",
    "trained": "trained",
    "skipped": "skipped",
    "retired": "retired",
}


@dataclass(frozen=True)
class IngestedFile:
    source: str
    file_name: str
    status: str  # loaded | partial | quarantined
    rows_in: int
    rows_rejected: int
    reason: str
    rows_loaded: int = 0


@dataclass(frozen=True)
class TrainedModel:
    model_name: str
    status: str
    reason: str | None  # why it was not promoted, skipped, or fell back


@dataclass
class RunSummary:
    run_ids: list[str]
    warehouse: str  # URL, password hidden
    log_path: Path | None = None
    home: Path | None = None  # LIFTLINE_HOME, to point at quarantine/
    failed_dags: list[str] = field(default_factory=list)
    files: list[IngestedFile] = field(default_factory=list)
    alerts_by_kind: Counter = field(default_factory=Counter)
    undelivered_by_status: Counter = field(default_factory=Counter)  # this run's alerts
    last_delivery_error: str | None = None
    earlier_undelivered: int = 0  # alerts of earlier runs still pending or failed
    models: list[TrainedModel] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)  # left in landing/ on purpose

    @property
    def file_counts(self) -> Counter:
        return Counter(f.status for f in self.files)

    @property
    def quarantined(self) -> int:
        return self.file_counts["quarantined"]

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Rows kept out of the warehouse: a quarantined file's rows all count, even when it
        could not be read far enough to reject them one by one."""
        return sum(f.rows_in if f.status == "quarantined" else f.rows_rejected
                   for f in self.files)

    @property
    def new_champions(self) -> list[str]:
        """The models this run promoted to champion."""
        return [m.model_name for m in self.models if m.status == "champion"]

    @property
    def undelivered(self) -> int:
        return sum(self.undelivered_by_status.values())

    def problems(self) -> list[str]:
        """What needs a person: a failed DAG, quarantined or partly rejected files, alerts that
        did not reach Slack."""
        counts = self.file_counts
        found = [f"{dag_id} failed" for dag_id in self.failed_dags]
        if counts["quarantined"]:
            found.append(f"{counts['quarantined']} file(s) quarantined")
        if counts["partial"]:
            found.append(f"{counts['partial']} file(s) with rejected rows")
        refused = sum(s.refused for s in self.skipped)
        if refused:
            found.append(f"{refused} link(s) or special file(s) in landing/ refused")
        if self.undelivered:
            found.append(f"{self.undelivered} alert(s) not delivered")
        if self.earlier_undelivered:
            found.append(f"{self.earlier_undelivered} earlier alert(s) still undelivered")
        return found

    def lines(self) -> list[str]:
        problems = self.problems()
        head = "summary of this run" + (": " + ", ".join(problems) if problems else
                                        ": nothing needs attention")
        return [head, *self._file_lines(), *self._skipped_lines(), *self._alert_lines(),
                *self._model_lines(),
                _row("warehouse", self.warehouse),
                *([_row("log", str(self.log_path))] if self.log_path else [])]

    def text(self) -> str:
        return "\n".join(self.lines())

    def _file_lines(self) -> list[str]:
        if not self.files:
            return [_row("files", "none ingested (landing/ was empty or held only files "
                                  "ingested before)")]
        counts = self.file_counts
        tally = ", ".join(f"{counts[s]} {s}" for s in FILE_STATUSES if counts[s])
        lines = [_row("files", f"{len(self.files)} ingested: {tally}")]
        flagged = [f for s in ("quarantined", "partial") for f in self.files if f.status == s]
        for f in flagged[:LISTED_FILES]:
            lines.append(_row("", f"{f.status:<11} {f.source}/{f.file_name}: {_short(f.reason)}"))
        if len(flagged) > LISTED_FILES:
            lines.append(_row("", f"... and {len(flagged) - LISTED_FILES} more in ops_ingest_log"))
        if flagged:
            quarantine = self.home / "quarantine" if self.home else Path("quarantine")
            lines.append(_row("", "why, check by check and row by row: "
                                  f"{quarantine}/<source>/<file>.reason.json"))
        return lines

    def _skipped_lines(self) -> list[str]:
        """Refused entries first: they need someone; then what is skipped by design."""
        if not self.skipped:
            return []
        ordered = sorted(self.skipped, key=lambda s: (not s.refused, s.path))
        refused = sum(s.refused for s in ordered)
        lines = [_row("landing", f"{len(ordered)} not ingested, left in landing/"
                                 f"{f' ({refused} refused)' if refused else ''}:")]
        lines += [_row("", _short(s.line())) for s in ordered[:LISTED_FILES]]
        if len(ordered) > LISTED_FILES:
            lines.append(_row("", f"... and {len(ordered) - LISTED_FILES} more (see the run log)"))
        return lines

    def _alert_lines(self) -> list[str]:
        total = sum(self.alerts_by_kind.values())
        if not total:
            lines = [_row("alerts", "none raised")]
        else:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.alerts_by_kind.items()))
            sent = total - self.undelivered
            lines = [_row("alerts", f"{total} raised ({kinds}), {sent} delivered to Slack")]
        for status, n in sorted(self.undelivered_by_status.items()):
            lines.append(_row("", f"{n} {undelivered_text(status, self.last_delivery_error)}"))
        if self.earlier_undelivered:
            lines.append(_row("", f"{self.earlier_undelivered} alert(s) of earlier runs still "
                                  "wait in the outbox (ops_alerts); retried on every run"))
        return lines

    def _model_lines(self) -> list[str]:
        if not self.models:
            return [_row("models", "none trained in this run")]
        lines, label = [], "models"
        for status in _status_order({m.status for m in self.models}):
            group = [m for m in self.models if m.status == status]
            text = MODEL_STATUS_LABELS.get(status, status.replace("_", " "))
            plain = [m.model_name for m in group if not m.reason]
            if plain:
                lines.append(_row(label, f"{text}: {', '.join(plain)}"))
                label = ""
            for m in group:
                if m.reason:
                    lines.append(_row(label, f"{text}: {m.model_name} ({_short(m.reason)})"))
                    label = ""
        return lines


def undelivered_text(status: str, last_error: str | None) -> str:
    """What an alert's delivery status means for the reader, and what happens next."""
    if status == NOT_CONFIGURED:
        return ("not sent: no Slack connection (Airflow connection slack_api_default); "
                "they are in ops_alerts and the run log")
    if status == FAILED:
        error = f" ({_short(last_error)})" if last_error else ""
        return (f"failed to reach Slack{error}; they stay in the outbox and are retried on "
                "the next run")
    if status == PENDING:
        return ("not tried yet (delivery stopped early, e.g. after Slack failed, or did not run); "
                "retried on the next run")
    return f"with delivery status {status!r}"


def summarize_run(engine: Engine, run_ids: Sequence[str], *, log_path: Path | None = None,
                  home: Path | None = None, failed_dags: Sequence[str] = ()) -> RunSummary:
    """The summary of the DAG runs `run_ids`, read from the warehouse."""
    existing = set(inspect(engine).get_table_names())
    summary = RunSummary(run_ids=list(run_ids), log_path=log_path, home=home,
                         warehouse=engine.url.render_as_string(hide_password=True),
                         failed_dags=list(failed_dags))
    if home is not None:
        summary.skipped = skipped_files(home)
    if not run_ids:
        return summary
    with engine.connect() as conn:
        if "ops_ingest_log" in existing:
            summary.files = _ingested_files(conn, run_ids)
        if "ops_alerts" in existing:
            _read_alerts(conn, run_ids, summary)
        if "ml_model_registry" in existing:
            summary.models = _trained_models(conn, run_ids)
    return summary


def _ingested_files(conn, run_ids: Sequence[str]) -> list[IngestedFile]:  # noqa: ANN001
    log = table("ops_ingest_log")
    rows = conn.execute(
        select(log.c.source, log.c.file_name, log.c.status, log.c.rows_in, log.c.rows_rejected,
               log.c.reason, log.c.rows_loaded)
        .where(log.c.run_id.in_(run_ids))
        .order_by(log.c.source, log.c.file_name))
    return [IngestedFile(r.source, r.file_name, r.status, int(r.rows_in or 0),
                         int(r.rows_rejected or 0), r.reason or "", int(r.rows_loaded or 0))
            for r in rows]


def _read_alerts(conn, run_ids: Sequence[str], summary: RunSummary) -> None:  # noqa: ANN001
    alerts = table("ops_alerts")
    mine = alerts.c.run_id.in_(run_ids)
    for kind, status, n in conn.execute(
            select(alerts.c.kind, alerts.c.delivery_status, func.count())
            .where(mine).group_by(alerts.c.kind, alerts.c.delivery_status)):
        summary.alerts_by_kind[kind] += n
        if status != DELIVERED:
            summary.undelivered_by_status[status] += n
    summary.last_delivery_error = conn.execute(
        select(alerts.c.last_error)
        .where(mine, alerts.c.delivery_status == FAILED, alerts.c.last_error.is_not(None))
        .order_by(alerts.c.created_at.desc()).limit(1)).scalar()
    # run_id may be NULL (an alert recorded outside a DAG run): that is "not this run" too.
    not_mine = alerts.c.run_id.is_(None) | alerts.c.run_id.not_in(run_ids)
    summary.earlier_undelivered = conn.execute(
        select(func.count()).select_from(alerts)
        .where(not_mine, alerts.c.delivery_status.in_((PENDING, FAILED)))).scalar_one()


def _trained_models(conn, run_ids: Sequence[str]) -> list[TrainedModel]:  # noqa: ANN001
    registry = table("ml_model_registry")
    rows = conn.execute(
        select(registry.c.model_name, registry.c.status, registry.c.metrics_json)
        .where(registry.c.run_id.in_(run_ids))
        .order_by(registry.c.model_name))
    return [TrainedModel(r.model_name, r.status, model_reason(r.metrics_json)) for r in rows]


def model_reason(metrics_json: str | None) -> str | None:
    """Why a model was not promoted (registry: metrics.promotion.reason) or was skipped or
    fell back (metrics.reason)."""
    try:
        metrics = json.loads(metrics_json) if metrics_json else {}
    except json.JSONDecodeError:
        return None
    if not isinstance(metrics, dict):
        return None
    promotion = metrics.get("promotion")
    reason = promotion.get("reason") if isinstance(promotion, dict) else None
    reason = reason or metrics.get("reason")
    return str(reason) if reason else None


def _status_order(statuses: set[str]) -> list[str]:
    known = [s for s in MODEL_STATUS_LABELS if s in statuses]
    return known + sorted(statuses - set(known))


def _row(label: str, text: str) -> str:
    return f"  {label:<10} {text}"


def _short(text: str | None) -> str:
    first = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    first = first.removeprefix("quarantined: ")
    return first if len(first) <= REASON_CHARS else first[:REASON_CHARS - 3] + "..."
