"""Posting one message (and uploading its chart) to Slack with retries that respect Slack and
never leak the token.

slack_sdk's own retry handlers sleep with `time.sleep`; they are switched off so every wait
goes through an injected `sleep` (tests run in milliseconds) and counts against one budget per
delivery run. What a failure means decides what happens next:

- HTTP 429: wait for Retry-After (capped), then retry.
- HTTP 5xx, Slack's transient errors, connection errors: exponential backoff, a few attempts.
- Auth and channel errors: no retry, and no further alerts this run (each would fail alike).
- Any other rejection (e.g. invalid_blocks): no retry for this alert; the run goes on.

A chart upload (files_upload_v2: files.getUploadURLExternal, the upload itself, then
files.completeUploadExternal) is retried the same way; only an outage (5xx, unreachable, rate
limited) ends the run there, since the token has just posted the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

REQUEST_TIMEOUT_S = 15
RETRY_AFTER_CAP_S = 60.0
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
# Total time one delivery run may spend waiting: a scheduled task must end in bounded time.
SLEEP_BUDGET_S = 300.0

AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
        "missing_scope",
        "no_permission",
        "access_denied",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
        "two_factor_setup_required",
    }
)
CHANNEL_ERRORS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action"}
)
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)

# Slack token shapes (xoxb-, xoxp-, xapp- ...), masked even when the exact token is unknown.
_TOKEN_PATTERN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")


@dataclass(frozen=True, repr=False)
class SlackTarget:
    """Where alerts go: a bot token, a channel, and optionally another API base URL (tests)."""

    token: str
    channel: str
    base_url: str | None = None

    def __post_init__(self) -> None:
        if not self.token or not self.token.strip():
            raise ValueError(
                "the Slack token is empty: set the password of the Slack connection "
                "(slack_api_default)"
            )
        if not self.channel or not self.channel.strip():
            raise ValueError("the Slack channel is empty: set LIFTLINE_SLACK_CHANNEL")

    def __repr__(self) -> str:
        return f"SlackTarget(channel={self.channel!r}, base_url={self.base_url!r}, token='***')"

    @property
    def api_url(self) -> str:
        """The Web API base URL, ending in "/" (slack_sdk joins method names onto it)."""
        base = self.base_url or WebClient.BASE_URL
        return base if base.endswith("/") else base + "/"


class SlackDeliveryError(Exception):
    """Slack did not accept a message; `stop_run` when later messages would fail the same way,
    `outage` when Slack was unreachable, failing or rate limiting (worth retrying later)."""

    def __init__(self, message: str, *, stop_run: bool, outage: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.stop_run = stop_run
        self.outage = outage


class SleepBudget:
    """Seconds of waiting left for one delivery run."""

    def __init__(self, seconds: float = SLEEP_BUDGET_S) -> None:
        self.limit = seconds
        self.spent = 0.0

    def take(self, seconds: float) -> bool:
        """Reserve `seconds` of waiting; False (nothing reserved) when it would exceed the limit."""
        if self.spent + seconds > self.limit:
            return False
        self.spent += seconds
        return True


@dataclass(frozen=True)
class _Failure:
    message: str
    wait: float | None  # seconds before retrying; None: do not retry
    stop_run: bool  # when giving up on this alert, give up on the run too


def make_client(target: SlackTarget) -> WebClient:
    """A WebClient for `target` without slack_sdk's own (unsleepable-in-tests) retries."""
    return WebClient(
        token=target.token,
        base_url=target.api_url,
        timeout=REQUEST_TIMEOUT_S,
        retry_handlers=[],
    )


@dataclass(frozen=True)
class Retries:
    """How one delivery run retries: its waits (injected in tests), budget and attempts."""

    sleep: Callable[[float], None]
    budget: SleepBudget
    max_attempts: int
    log: Callable[[str], None]


def post_message(
    client: WebClient,
    target: SlackTarget,
    text: str,
    blocks: list[dict[str, Any]],
    retries: Retries,
) -> tuple[str, str]:
    """Post one message, retrying transient failures; returns Slack's (channel id, message ts).

    SlackDeliveryError when it gives up.
    """
    response = _with_retries(
        lambda: client.chat_postMessage(channel=target.channel, text=text, blocks=blocks),
        target, retries)
    return str(response.get("channel") or target.channel), str(response.get("ts") or "")


def upload_chart(
    client: WebClient,
    target: SlackTarget,
    png: bytes,
    *,
    channel_id: str,
    thread_ts: str,
    filename: str,
    title: str,
    retries: Retries,
) -> str:
    """Upload a PNG into the thread of the message `thread_ts`; returns the file's id.

    SlackDeliveryError when it gives up; it stops the run only on an outage.
    """
    def upload() -> Any:
        return client.files_upload_v2(file=png, filename=filename, title=title, alt_txt=title,
                                      channel=channel_id, thread_ts=thread_ts)

    try:
        response = _with_retries(upload, target, retries, what="uploading the chart")
    except SlackDeliveryError as exc:
        raise SlackDeliveryError(exc.message, stop_run=exc.outage) from None
    file = response.get("file") or {}
    return str(file.get("id") or "")


def _with_retries(call: Callable[[], Any], target: SlackTarget, retries: Retries,
                  what: str = "") -> Any:
    """`call()`'s result, retrying what _classify says is transient."""
    max_attempts, budget = retries.max_attempts, retries.budget
    prefix = f"{what}: " if what else ""
    for attempt in range(1, max_attempts + 1):
        try:
            return call()
        except Exception as exc:  # classified below; unknown errors fail this alert only
            failure = _classify(exc, attempt, target)
        failure = _Failure(prefix + failure.message, failure.wait, failure.stop_run)
        if failure.wait is None:
            raise SlackDeliveryError(
                redact(failure.message, target.token), stop_run=failure.stop_run
            )
        if attempt == max_attempts:
            message = f"{failure.message}, gave up after {attempt} attempts"
            raise SlackDeliveryError(redact(message, target.token), stop_run=failure.stop_run,
                                     outage=True)
        if not budget.take(failure.wait):
            message = (
                f"{failure.message}, gave up: waiting {failure.wait:g} s more would exceed "
                f"this run's {budget.limit:g} s retry budget"
            )
            raise SlackDeliveryError(redact(message, target.token), stop_run=True, outage=True)
        retries.log(
            redact(
                f"Slack: {failure.message}; retrying in {failure.wait:g} s "
                f"(attempt {attempt + 1} of {max_attempts})",
                target.token,
            )
        )
        retries.sleep(failure.wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


def redact(text: str, token: str | None = None) -> str:
    """`text` on one line, with `token` and anything shaped like a Slack token masked."""
    if token:
        text = text.replace(token, "***")
    return re.sub(r"\s+", " ", _TOKEN_PATTERN.sub("***", text)).strip()


def _classify(exc: Exception, attempt: int, target: SlackTarget) -> _Failure:
    if isinstance(exc, SlackApiError):
        return _classify_api_error(exc, attempt, target)
    if isinstance(exc, HTTPError):  # the chart's upload URL answers outside the Web API
        return _classify_upload_status(exc, attempt)
    if isinstance(exc, SlackRequestError):
        return _Failure(f"invalid Slack request ({exc}): check the Slack base URL", None, True)
    if isinstance(exc, OSError | HTTPException):
        # URLError, ConnectionError and socket timeouts are all OSErrors.
        reason = exc.reason if isinstance(exc, URLError) else exc
        message = f"cannot reach Slack at {target.api_url} ({reason or type(exc).__name__})"
        return _Failure(message, _backoff(attempt), True)
    return _Failure(f"unexpected {type(exc).__name__} posting to Slack: {exc}", None, False)


def _classify_api_error(exc: SlackApiError, attempt: int, target: SlackTarget) -> _Failure:
    response = exc.response
    status = getattr(response, "status_code", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    error = str(data.get("error") or "unknown_error")
    where = f"{error} (HTTP {status})"
    if status == 429 or error == "ratelimited":
        wait = _retry_after(getattr(response, "headers", None) or {})
        return _Failure(f"rate limited by Slack, {where}", wait, True)
    if (status is not None and status >= 500) or error in TRANSIENT_ERRORS:
        return _Failure(f"Slack server error {where}", _backoff(attempt), True)
    if error in AUTH_ERRORS:
        return _Failure(
            f"Slack rejected the token: {where}; check the bot token (password of the Slack "
            "connection) and its chat:write scope (files:write for charts)",
            None,
            True,
        )
    if error in CHANNEL_ERRORS:
        return _Failure(
            f"Slack cannot post to {target.channel}: {where}; check the channel exists and "
            "the bot is a member",
            None,
            True,
        )
    return _Failure(f"Slack rejected the message: {where}{_slack_hint(data)}", None, False)


def _classify_upload_status(exc: HTTPError, attempt: int) -> _Failure:
    # The upload URL is signed: never quote it (HTTPError's text holds only code and reason).
    where = f"HTTP {exc.code} {exc.reason}"
    if exc.code == 429:
        return _Failure(f"rate limited by Slack's file upload, {where}",
                        _retry_after(exc.headers or {}), True)
    if exc.code >= 500:
        return _Failure(f"Slack's file upload failed, {where}", _backoff(attempt), True)
    return _Failure(f"Slack's file upload refused the chart, {where}", None, False)


def _slack_hint(data: Mapping[str, Any]) -> str:
    # invalid_blocks and similar explain themselves in response_metadata.messages.
    metadata = data.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, Mapping) else None
    return f": {messages[0]}" if isinstance(messages, list) and messages else ""


def _retry_after(headers: Mapping[str, Any]) -> float:
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = BACKOFF_BASE_S  # missing or an HTTP date: wait briefly rather than not at all
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_S)


def _backoff(attempt: int) -> float:
    return min(BACKOFF_BASE_S * 2 ** (attempt - 1), BACKOFF_CAP_S)
