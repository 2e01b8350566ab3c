"""Audit the packages `requirements.txt` installs for known vulnerabilities (pip-audit).

    python scripts/audit_dependencies.py --venv .venv

Runs pip-audit (installed in the Python that runs this script, not in the audited venv, so the
tool's own dependencies are not mixed into what is audited) over the site-packages of `--venv`,
the environment `make install` built from `requirements.txt` with every transitive dependency.
A finding fails unless `.ci/pip-audit-ignore.toml` lists its id with a reason; packages the
vulnerability service could not look up are named, since nothing was said about them.

Exit status: 0 no finding outside the ignore list, 1 findings, 2 the audit could not run
(pip-audit missing, PyPI unreachable).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IGNORE_FILE = REPO / ".ci" / "pip-audit-ignore.toml"


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]

    def line(self) -> str:
        fix = ", ".join(self.fix_versions) or "no fixed release"
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package} {self.version}: {self.vuln_id}{aliases}; fixed in: {fix}"


def site_packages(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"audit: {python} not found: build the venv first (make install)")
    return subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True,
                          text=True).stdout.strip()


def run_pip_audit(path: str) -> dict | None:
    """pip-audit's JSON report on the packages under `path`; None (with the reason printed)
    when it could not run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        proc = subprocess.run([sys.executable, "-m", "pip_audit", "--path", path,
                               "--skip-editable", "--format", "json", "--output", str(out),
                               "--progress-spinner", "off"], capture_output=True, text=True)
        if not out.exists() or not out.read_text().strip():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print("audit: pip-audit did not run: " + " / ".join(tail), file=sys.stderr)
            return None
        return json.loads(out.read_text())


def findings_and_skips(report: dict) -> tuple[list[Finding], list[tuple[str, str]]]:
    findings, skipped = [], []
    for dep in report.get("dependencies", []):
        if dep.get("skip_reason"):
            skipped.append((dep["name"], dep["skip_reason"]))
        for vuln in dep.get("vulns", []):
            findings.append(Finding(dep["name"], dep.get("version", "?"), vuln["id"],
                                    tuple(vuln.get("aliases", [])),
                                    tuple(vuln.get("fix_versions", []))))
    return findings, skipped


def load_ignores(path: Path = IGNORE_FILE) -> dict[str, str]:
    """Vulnerability id -> why it is accepted; an entry without a reason is refused."""
    if not path.exists():
        return {}
    entries = tomllib.loads(path.read_text()).get("ignore", [])
    ignores = {}
    for entry in entries:
        if not entry.get("id") or not str(entry.get("reason", "")).strip():
            raise SystemExit(f"audit: every entry of {path} needs an id and a reason: {entry}")
        ignores[entry["id"]] = entry["reason"].strip()
    return ignores


def is_ignored(finding: Finding, ignores: dict[str, str]) -> str | None:
    for name in (finding.vuln_id, *finding.aliases):
        if name in ignores:
            return ignores[name]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=REPO / ".venv",
                        help="the virtualenv built from requirements.txt (default: .venv)")
    args = parser.parse_args(argv)

    report = run_pip_audit(site_packages(args.venv))
    if report is None:
        return 2
    findings, skipped = findings_and_skips(report)
    ignores = load_ignores()
    audited = len(report.get("dependencies", [])) - len(skipped)
    failing = []
    for finding in findings:
        reason = is_ignored(finding, ignores)
        if reason:
            print(f"audit: accepted  {finding.line()}  -- {reason}")
        else:
            failing.append(finding)
            print(f"audit: FINDING   {finding.line()}")
    seen = {name for f in findings for name in (f.vuln_id, *f.aliases)}
    for stale in sorted(set(ignores) - seen):
        print(f"audit: {stale} is in {IGNORE_FILE.name} but no longer found: remove it")
    print(f"audit: {audited} package(s) audited, {len(findings)} finding(s), "
          f"{len(failing)} not in {IGNORE_FILE.name}")
    if skipped:
        names = ", ".join(f"{name}" for name, _ in skipped[:8])
        more = f" and {len(skipped) - 8} more" if len(skipped) > 8 else ""
        print(f"audit: WARNING: {len(skipped)} package(s) could not be looked up, so nothing is "
              f"known about them: {names}{more} (first reason: {skipped[0][1]})")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
