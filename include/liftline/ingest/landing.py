"""The folders of LIFTLINE_HOME: finding ready deliveries in landing/, filing them afterwards.

landing/<source>/ receives extracts; archive/<source>/ keeps accepted files and
quarantine/<source>/ rejected ones, each beside a `<file>.reason.json`. A file still being
written (modified within the settle time, or with a temporary name) is left for the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from liftline.contract import SOURCES

from .reader import delivery_format

# Names that transfer tools, editors and exporters use while a file is incomplete.
TEMPORARY_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download",
                      ".filepart", ".swp", ".lock", "~")
AREAS = ("landing", "archive", "quarantine")


@dataclass(frozen=True)
class LandedFile:
    path: Path
    source: str
    received_at: dt.datetime  # naive UTC: when the file landed (its modification time)
    size: int


def ensure_layout(home: Path) -> None:
    """Create landing/, archive/ and quarantine/ with a folder per source (idempotent)."""
    for area in AREAS:
        for name in SOURCES:
            (home / area / name).mkdir(parents=True, exist_ok=True)


def ready_files(home: Path, source: str, settle_seconds: float = 60,
                now: float | None = None) -> list[LandedFile]:
    """Files in landing/<source>/ ready to ingest, oldest first (so a later correction wins)."""
    folder = home / "landing" / source
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    files = []
    for path in folder.iterdir():
        if not path.is_file() or is_temporary(path.name):
            continue
        stat = path.stat()
        if now - stat.st_mtime < settle_seconds:
            continue
        received = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
        files.append(LandedFile(path, source, received, stat.st_size))
    return sorted(files, key=lambda f: (f.received_at, f.path.name))


def is_temporary(name: str) -> bool:
    lower = name.lower()
    return name.startswith((".", "~$")) or lower.endswith(TEMPORARY_SUFFIXES)


def stray_files(home: Path) -> list[str]:
    """Files in landing/ outside any source folder: they are never ingested, so say so."""
    landing = home / "landing"
    if not landing.is_dir():
        return []
    notes = []
    for path in sorted(landing.iterdir()):
        if path.name.startswith((".", "_")):
            continue  # hidden, or e.g. _truth/ of a synthetic world
        if path.is_file() and delivery_format(path):
            notes.append(f"landing/{path.name} is not in a source folder: move it to "
                         "landing/<source>/")
        elif path.is_dir() and path.name not in SOURCES:
            notes.append(f"landing/{path.name}/ is not a source ({', '.join(SOURCES)}): "
                         "its files are not ingested")
    return notes


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_away(landed: LandedFile, home: Path, area: str, sha256: str) -> Path:
    """Move the delivery to area/<source>/, never overwriting an earlier file of that name."""
    folder = home / area / landed.source
    folder.mkdir(parents=True, exist_ok=True)
    # Only the bare name is used, so a name with ".." cannot leave the folder.
    target = folder / Path(landed.path.name).name
    if target.exists() or target.with_name(target.name + ".reason.json").exists():
        stem, suffix = _split_suffix(target.name)
        target = folder / f"{stem}.{sha256[:12]}{suffix}"
        if target.exists():  # the same bytes were filed under this name before
            target = folder / f"{stem}.{sha256[:12]}.{int(time.time() * 1000)}{suffix}"
    shutil.move(landed.path, target)
    return target


def write_reason(next_to: Path, reason: dict) -> Path:
    """Write `<file>.reason.json` beside a filed delivery, atomically."""
    path = next_to.with_name(next_to.name + ".reason.json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(reason, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def relative(path: Path, home: Path) -> str:
    try:
        return str(path.relative_to(home))
    except ValueError:
        return str(path)


def _split_suffix(name: str) -> tuple[str, str]:
    fmt = delivery_format(Path(name))
    if fmt:
        return name[: -len(fmt)], name[-len(fmt):]
    stem, dot, suffix = name.rpartition(".")
    return (stem, dot + suffix) if stem else (name, "")
