"""The shapes every feature builder shares: its context, what changed, and what it did."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection

Log = Callable[[str], None]


@dataclass(frozen=True)
class BuildContext:
    """One build: its run, the as-of date (the last day of facts it may use) and how to log."""

    run_id: str
    as_of: date
    log: Log = print


@dataclass(frozen=True)
class Changes:
    """What changed in the clean tables since a feature table was last built.

    `full` asks for a rebuild of the whole table (first build, `full_refresh`, a dimension
    changed, a new feature definition). Otherwise `dirty` maps each changed input source to the
    earliest date its new deliveries touched (old and new versions of a corrected row alike),
    or None for an undated source; the pseudo-source "as_of" is present when the as-of date moved.
    """

    full: bool
    reason: str
    dirty: dict[str, date | None] = field(default_factory=dict)

    def changed(self, *sources: str) -> bool:
        return self.full or any(source in self.dirty for source in sources)

    def earliest(self, *sources: str, lead_days: int = 0) -> date | None:
        """Earliest dirty date among `sources`, moved `lead_days` earlier; None if none changed.

        An undated source that changed (a dimension) counts as date.min: rebuild everything.
        """
        dates = [
            self.dirty[source] or date.min for source in sources if source in self.dirty
        ]
        if not dates:
            return None
        earliest = min(dates)
        return earliest if earliest == date.min else earliest - timedelta(days=lead_days)


@dataclass(frozen=True)
class BuildOutcome:
    """What a builder did to its table, for the task log and the DAG's return value."""

    table: str
    mode: str  # "full", "incremental", "unchanged" or "skipped"
    rows: int = 0
    detail: str = ""

    def line(self) -> str:
        text = f"{self.table}: {self.mode}"
        if self.mode in ("full", "incremental"):
            text += f", {self.rows:,} rows written"
        return f"{text} ({self.detail})" if self.detail else text


Builder = Callable[[Connection, BuildContext, Changes], BuildOutcome]


@dataclass(frozen=True)
class FeatureSpec:
    """A feature table: the clean sources it reads and the function that (re)builds it.

    `requires` are sources without which the table cannot be built at all (skipped with a
    logged reason, never a failed run). `version` is bumped when the feature definitions change,
    which makes the next build a full one.
    """

    table: str
    inputs: tuple[str, ...]
    requires: tuple[str, ...]
    build: Builder
    version: int = 1
