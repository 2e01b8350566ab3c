"""Ingest: extracts in landing/<source>/ -> raw layer -> validation -> clean tables or quarantine.

Used by dags/ingest_extracts.py: `pending_sources` lists the sources with ready files
(dimensions first, so referential checks see them), `ingest_source` ingests one source and
returns a `SourceResult` whose `changed_tables` become Airflow asset events.
"""

from .landing import SkippedFile, ensure_layout, ready_files, skipped_files
from .pipeline import DIMENSION_SOURCES, FileOutcome, SourceResult, ingest_source, pending_sources
from .reader import DeliveryError, open_delivery

__all__ = [
    "DIMENSION_SOURCES",
    "DeliveryError",
    "FileOutcome",
    "SkippedFile",
    "SourceResult",
    "ensure_layout",
    "ingest_source",
    "open_delivery",
    "pending_sources",
    "ready_files",
    "skipped_files",
]
