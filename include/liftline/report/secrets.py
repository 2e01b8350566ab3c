"""Keeping secrets out of a report that is mailed around and opened anywhere.

The page names the warehouse with its password hidden; as a last guard, every secret this
process knows (the warehouse password, and environment variables that hold tokens, passwords or
connection URIs, e.g. a Slack token or AIRFLOW_CONN_*) is replaced before the file is written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|^AIRFLOW_CONN_"
                          r"|WAREHOUSE_URL|POSTGRES_URL|DATABASE_URL|WEBHOOK", re.IGNORECASE)
MIN_SECRET_LENGTH = 6  # shorter values would match ordinary words of the page
HIDDEN = "***"


def safe_url(url: str) -> str:
    """The URL as people may see it: password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def known_secrets(url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What must not appear in the report, each with what to show instead: the warehouse
    password, and environment variables named like secrets (a URL among them is shown with its
    password hidden, everything else as ***)."""
    environ = os.environ if environ is None else environ
    found = {_password(url): HIDDEN}
    for name, value in environ.items():
        if SECRET_NAMES.search(name) and value:
            found[_password(value)] = HIDDEN
            found[value] = safe_url(value) if _password(value) else HIDDEN
    return {secret: shown for secret, shown in found.items()
            if secret and len(secret) >= MIN_SECRET_LENGTH and secret != shown}


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """`text` with every secret replaced, the longest first (a URL before its password)."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, secrets[secret])
    return text
