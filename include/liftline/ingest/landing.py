"""The folders of LIFTLINE_HOME: finding ready deliveries in landing/, filing them afterwards.

landing/<source>/ receives extracts; archive/<source>/ keeps accepted files and
quarantine/<source>/ rejected ones, each beside a `<file>.reason.json`. A file still being
written (modified within the settle time, or with a temporary name) is left for the next run.

Everything else in landing/ that is not taken is named, never passed over silently
(`skipped_files`): hidden and temporary files, sub-folders, folders that are no source, files
outside a source folder. Symbolic links (to files or folders) and special files such as named
pipes are refused: ingest reads only regular files delivered into landing/, so nothing outside
LIFTLINE_HOME is ever read through a link, and a link is left where it is (not quarantined: it
holds no delivered bytes) and named on every run until someone removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
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


@dataclass(frozen=True)
class SkippedFile:
    """Something in landing/ that ingest leaves alone on purpose, and why."""

    path: str  # relative to LIFTLINE_HOME, e.g. landing/pos/.DS_Store; folders end in "/"
    reason: str  # what it is, said after its path: "is a hidden file ..."
    refused: bool = False  # a link or special file: someone should look at it

    def line(self) -> str:
        return f"{self.path} {self.reason}"


def ready_files(home: Path, source: str, settle_seconds: float = 60,
                now: float | None = None) -> list[LandedFile]:
    """Files in landing/<source>/ ready to ingest, oldest first (so a later correction wins)."""
    folder = home / "landing" / source
    if _skipped_entry(home, folder) is not None or not folder.is_dir():
        return []
    now = time.time() if now is None else now
    files = []
    for path in folder.iterdir():
        if _skipped_entry(home, path) is not None:
            continue
        try:
            info = path.stat()
        except FileNotFoundError:
            continue  # taken away since the listing
        if now - info.st_mtime < settle_seconds:
            continue
        received = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC).replace(tzinfo=None)
        files.append(LandedFile(path, source, received, info.st_size))
    return sorted(files, key=lambda f: (f.received_at, f.path.name))


def refusal(home: Path, path: Path) -> SkippedFile | None:
    """Why a listed delivery must not be read now (it became a link), else None.

    Checked again right before a file is read, since landing/ changes under a running ingest.
    """
    return _skipped_entry(home, path)


def skipped_files(home: Path, source: str | None = None) -> list[SkippedFile]:
    """What ingest leaves alone in landing/ (or only in landing/<source>/), and why."""
    landing = home / "landing"
    if not landing.is_dir():
        return []
    entries = [landing / source] if source else sorted(landing.iterdir())
    found = []
    for entry in entries:
        if not os.path.lexists(entry):
            continue
        skipped = _skipped_entry(home, entry)
        if skipped is not None:
            found.append(skipped)
        elif entry.is_dir():  # a source folder: what in it is not taken
            found.extend(s for s in (_skipped_entry(home, p) for p in sorted(entry.iterdir()))
                         if s is not None)
    return found


def _skipped_entry(home: Path, path: Path) -> SkippedFile | None:
    """Why `path` (in landing/ or landing/<source>/) is not taken, or None for a delivery
    (in a source folder) or a source folder (in landing/)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None  # gone: reading it fails and says so
    in_landing = path.parent == home / "landing"
    if stat.S_ISLNK(info.st_mode):
        return SkippedFile(_shown(home, path), _link_reason(home, path), refused=True)
    if stat.S_ISDIR(info.st_mode):
        if in_landing and path.name in SOURCES:
            return None
        if in_landing:
            return SkippedFile(_shown(home, path) + "/", f"is not a source folder: its "
                               f"{_count_files(path)} file(s) are not ingested (the sources: "
                               f"{', '.join(SOURCES)})")
        return SkippedFile(_shown(home, path) + "/", "is a sub-folder: only files directly in "
                           f"landing/{path.parent.name}/ are ingested; move them up")
    if not stat.S_ISREG(info.st_mode):
        return SkippedFile(_shown(home, path), "is not a regular file (a named pipe, socket or "
                           "device): refused, nothing is read from it", refused=True)
    if in_landing:
        hint = ("move it to landing/<source>/" if delivery_format(path)
                else "not an extract either")
        return SkippedFile(_shown(home, path), f"is not in a source folder: {hint}")
    if path.name.startswith("."):
        return SkippedFile(_shown(home, path), "is a hidden file (its name starts with '.'): "
                           "never ingested")
    if is_temporary(path.name):
        return SkippedFile(_shown(home, path), "has a temporary name (still being written?): taken "
                           "once renamed to its final name")
    return None


def _link_reason(home: Path, path: Path) -> str:
    target = os.readlink(path)
    resolved = path.parent / target
    inside = os.path.realpath(resolved).startswith(os.path.realpath(home) + os.sep)
    where = "inside" if inside else "outside"
    return (f"is a symbolic link (to {target}, {where} LIFTLINE_HOME): refused, nothing is read "
            "through links; copy the file itself into landing/<source>/")


def _count_files(folder: Path) -> int:
    try:
        return sum(1 for _ in folder.iterdir())
    except OSError:
        return 0


def _shown(home: Path, path: Path) -> str:
    return relative(path, home)


def is_temporary(name: str) -> bool:
    lower = name.lower()
    return name.startswith((".", "~$")) or lower.endswith(TEMPORARY_SUFFIXES)


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
