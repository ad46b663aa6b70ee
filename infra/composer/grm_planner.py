"""Calls the genesys-recording-migrator planner from Cloud Composer.

Plain Python 3, standard library only at import time, so that it can be
tested without Airflow and without Google's libraries. The DAG
(genesys_recording_migrator_dag.py) calls these functions from its tasks.

The planner has no check-only request: it checks the days before the day it
plans inside the request that plans that day (docs/composer.md). So the DAG
makes one request, the one Cloud Scheduler makes every night, and shows its
answer as two steps:

- plan_night(): the request. With `X-CloudScheduler-ScheduleTime` set to the
  run's time the planner picks the day itself (its TIME_ZONE and
  WINDOW_LAG_DAYS), checks the previous days (reruns a day without _SUCCESS,
  emails the developers) and then plans the day: the batches are published to
  the workers, which download the recordings.
- check_previous(): what the planner's check of the previous days found and
  did; raises PreviousDaysProblem when a day needs an operator.
- planned_days(): the day's export as the planner started it (run id,
  conversations, batches published to the workers).

The ID token comes from a fetcher (by default google-auth's fetch_id_token,
imported only when it is called: Composer has google-auth). No message, log
line or exception ever carries the token.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

LOG = logging.getLogger("grm_planner")

#: The planner's own timeout (infra/functions.tf): it answers within it or not at all.
DEFAULT_TIMEOUT_S = 1800.0
#: As Cloud Scheduler's job (infra/scheduler.tf): the first attempt and 3 retries,
DEFAULT_MAX_ATTEMPTS = 4
#: backing off from 60 s, doubling, to at most 600 s.
DEFAULT_MIN_BACKOFF_S = 60.0
DEFAULT_MAX_BACKOFF_S = 600.0
#: The answers the planner (or Cloud Run in front of it) gives when a later attempt may succeed.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
#: A plan summary is a few hundred bytes a day; anything bigger than this is not the planner's.
MAX_ANSWER_BYTES = 1024 * 1024
#: Longest excerpt of a non-JSON answer quoted in an error.
EXCERPT_CHARS = 200
#: Hosts a token may be sent to over plain HTTP (the local stack, tests).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

TokenFetcher = Callable[[str], str]

#: The environment variables that carry the deployment's `schedule` and `time_zone` (Terraform's
#: output composer_environment_variables), and their values when unset: Terraform's defaults.
SCHEDULE_VARIABLE = "GRM_SCHEDULE"
TIME_ZONE_VARIABLE = "GRM_TIME_ZONE"
DEFAULT_SCHEDULE = "0 0 * * *"
DEFAULT_TIME_ZONE = "Etc/UTC"
#: One field of a five-field cron expression: numbers, names (MON, JAN), `*`, ranges, lists, steps.
_CRON_FIELD = re.compile(r"[0-9A-Za-z*,/-]+")


class PlannerError(Exception):
    """The planner could not be called, refused the request, or answered unexpectedly.

    `status` is the HTTP status (None when there was no answer), `error` the
    planner's own message (its JSON `{"error": ...}`) when it gave one,
    `answer` the parsed JSON answer when there was one, and `attempts` the
    requests made.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        error: Optional[str] = None,
        answer: Optional[Any] = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.answer = answer
        self.attempts = attempts


class PreviousDaysProblem(Exception):
    """An earlier day needs an operator: its reruns are exhausted, or nobody could be told."""


def nightly_schedule(environ: Mapping[str, str]) -> Tuple[str, str]:
    """The DAG's cron schedule and the IANA time zone it runs in.

    They are the deployment's Terraform variables `schedule` and `time_zone`,
    which Cloud Scheduler's job uses, set on the Composer environment as
    GRM_SCHEDULE and GRM_TIME_ZONE (docs/composer.md); unset, Terraform's
    defaults. Refuses what is not a five-field cron expression or not a time
    zone known here, so that a typo stops the DAG file from loading instead of
    running the night at another time.
    """
    schedule = " ".join(environ.get(SCHEDULE_VARIABLE, "").split()) or DEFAULT_SCHEDULE
    zone = environ.get(TIME_ZONE_VARIABLE, "").strip() or DEFAULT_TIME_ZONE
    fields = schedule.split(" ")
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise ValueError(
            f"{SCHEDULE_VARIABLE} must be a five-field cron expression as Cloud Scheduler takes, "
            f"such as {DEFAULT_SCHEDULE!r}; got {_excerpt(schedule, 80)!r}"
        )
    try:
        import zoneinfo  # pylint: disable=import-outside-toplevel

        zoneinfo.ZoneInfo(zone)
    except ImportError:  # Python 3.8: Airflow's pendulum checks it when the DAG is built.
        pass
    except (ValueError, LookupError) as err:
        raise ValueError(
            f"{TIME_ZONE_VARIABLE} must be an IANA time zone such as {DEFAULT_TIME_ZONE!r}; "
            f"got {_excerpt(zone, 80)!r}"
        ) from err
    return schedule, zone


def fetch_id_token(audience: str) -> str:
    """An ID token for `audience` from google-auth, as the Composer environment's service account."""
    try:
        import google.auth.transport.requests  # pylint: disable=import-outside-toplevel
        import google.oauth2.id_token  # pylint: disable=import-outside-toplevel
    except ImportError as err:
        raise PlannerError(
            "google-auth is not installed, so no ID token can be fetched: Cloud Composer has it; "
            "elsewhere pass token_fetcher"
        ) from err
    return google.oauth2.id_token.fetch_id_token(
        google.auth.transport.requests.Request(), audience
    )


def planner_audience(url: str) -> str:
    """The ID token's audience for a planner URL: the service's URL (scheme and host).

    Refuses a URL a token must not be sent to: not http(s), or plain HTTP
    to anything but this machine.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"the planner URL must be an https:// URL, got {_excerpt(url, 80)}")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValueError(
            "the planner URL must be https:// (an ID token is never sent over plain HTTP "
            f"except to this machine), got {_excerpt(url, 80)}"
        )
    if parts.username or parts.password:
        raise ValueError("the planner URL must not hold credentials")
    return f"{parts.scheme}://{parts.netloc}"


def format_run_time(when: datetime) -> str:
    """A run time as the planner reads `X-CloudScheduler-ScheduleTime`: ISO 8601 in UTC."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the run time must carry its time zone (an aware datetime)")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def call_planner(
    url: str,
    body: Optional[Dict[str, Any]] = None,
    *,
    run_time: Optional[datetime] = None,
    token_fetcher: Optional[TokenFetcher] = None,
    audience: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    min_backoff: float = DEFAULT_MIN_BACKOFF_S,
    max_backoff: float = DEFAULT_MAX_BACKOFF_S,
    sleep: Callable[[float], None] = time.sleep,
) -> Dict[str, Any]:
    """POSTs `body` (JSON) to the planner with `Authorization: Bearer <ID token>`.

    Returns the planner's JSON answer on 2xx. Retries 429 and 5xx answers
    (honouring `Retry-After`) and connections that could not be made, with
    exponential backoff, `max_attempts` requests in all. Never retries once
    the request was sent and no answer came (the planner may be planning:
    a second request would plan the day again), nor any other answer: a 4xx
    is the planner saying what is wrong, and raises at once. Redirects are
    not followed (the token is for the planner's URL only).

    With `run_time`, sends it as `X-CloudScheduler-ScheduleTime`: the planner
    takes it as the run's time, so a late or retried run plans the same day.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    audience = audience or planner_audience(url)
    fetcher = token_fetcher or fetch_id_token
    try:
        token = fetcher(audience)
    except PlannerError:
        raise
    except Exception as err:  # any failure of the fetcher: it has no token to leak
        raise PlannerError(
            f"could not get an ID token for {audience}: {type(err).__name__}: {_excerpt(str(err))}"
        ) from None
    if not isinstance(token, str) or not token:
        raise PlannerError(f"the token fetcher returned no ID token for {audience}")

    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "grm-composer-dag",
    }
    if run_time is not None:
        headers["X-CloudScheduler-ScheduleTime"] = format_run_time(run_time)
    payload = json.dumps({} if body is None else body).encode("utf-8")
    opener = urllib.request.build_opener(_NoRedirects())

    attempt = 0
    while True:
        attempt += 1
        request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
        try:
            with opener.open(request, timeout=timeout) as res:
                status, raw, retry_after = res.status, _read(res), None
        except urllib.error.HTTPError as err:
            status = err.code
            try:
                raw = _read(err)
            except (OSError, http.client.HTTPException):
                raw = None  # the status is the answer; its body was cut short
            retry_after = err.headers.get("Retry-After") if err.headers else None
            location = err.headers.get("Location") if err.headers else None
            err.close()
            if 300 <= status < 400:
                raise PlannerError(
                    f"the planner answered {status}, a redirect to "
                    f"{_excerpt(_redact(location or '?', token), 80)}, which is not followed "
                    "(the ID token is for the planner's URL only): is the URL the planner's?",
                    status=status,
                    attempts=attempt,
                ) from None
        except urllib.error.URLError as err:
            # Raised while connecting or sending: the planner never got the request.
            reason = err.reason
            transient = isinstance(reason, (ConnectionError, TimeoutError, socket.timeout))
            if transient and attempt < max_attempts:
                delay = _backoff(attempt, None, min_backoff, max_backoff)
                LOG.warning(
                    "could not connect to the planner (%s), attempt %d of %d; retrying in %.0f s",
                    type(reason).__name__,
                    attempt,
                    max_attempts,
                    delay,
                )
                sleep(delay)
                continue
            raise PlannerError(
                f"could not reach the planner at {audience} after {attempt} "
                f"attempt{'s' if attempt != 1 else ''}: {_redact(str(reason), token)}",
                attempts=attempt,
            ) from None
        except (OSError, http.client.HTTPException) as err:
            # Raised while waiting for the answer: the planner may have planned, or may still be.
            waited = (
                f"nothing within {timeout:g} s"
                if isinstance(err, (TimeoutError, socket.timeout))
                else type(err).__name__
            )
            raise PlannerError(
                f"the planner gave no answer ({waited}); it may still be planning: look at the "
                "day (npx grm status) before running it again",
                attempts=attempt,
            ) from None

        answer, text = _parse(raw or b"")
        if 200 <= status < 300:
            if not isinstance(answer, dict):
                raise PlannerError(
                    f"the planner answered {status} with {_describe(text, token)}, not a JSON object",
                    status=status,
                    attempts=attempt,
                )
            return answer

        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, str):
            said = _redact(error, token)
        else:
            said = "a body cut short" if raw is None else _describe(text, token)
        if status in RETRIED_STATUSES and attempt < max_attempts:
            delay = _backoff(attempt, retry_after, min_backoff, max_backoff)
            LOG.warning(
                "the planner answered %d (%s), attempt %d of %d; retrying in %.0f s",
                status,
                said,
                attempt,
                max_attempts,
                delay,
            )
            sleep(delay)
            continue
        raise PlannerError(
            f"the planner answered {status} after {attempt} attempt{'s' if attempt != 1 else ''}: "
            f"{said}{_hint(status)}",
            status=status,
            error=_redact(error, token) if isinstance(error, str) else None,
            answer=answer,
            attempts=attempt,
        )


def plan_night(url: str, run_time: datetime, **options: Any) -> Dict[str, Any]:
    """The nightly request, as Cloud Scheduler makes it: check the previous days, then plan the day.

    `run_time` is the run's time (the DAG run's data interval end): the
    planner exports the day WINDOW_LAG_DAYS before it, in its TIME_ZONE.
    `options` are call_planner's. Returns the planner's answer, for
    check_previous() and planned_days().
    """
    answer = call_planner(url, {"checkPrevious": True}, run_time=run_time, **options)
    _days_of(answer)
    return answer


def check_previous(answer: Dict[str, Any]) -> List[str]:
    """The check-previous step: one line per earlier day the planner checked, and what it did.

    A day without _SUCCESS is planned again by the planner itself (and the
    developers emailed), up to MAX_AUTO_RERUNS times; a run still within
    RUN_GRACE_MINUTES is left to finish. Raises PreviousDaysProblem when a
    day needs an operator (its automatic reruns are used up), when the
    developers could not be emailed, or when the planner reports an action
    this module does not know.
    """
    if not isinstance(answer, dict):
        raise PlannerError("the planner's answer is not a JSON object")
    previous = answer.get("previous")
    if previous is None:
        return [
            "the planner checked no earlier day (check_previous_days is 0, or the request "
            "was a dry run)"
        ]
    if not isinstance(previous, list):
        raise PlannerError('the planner\'s answer has a "previous" that is not a list')
    lines: List[str] = []
    problems: List[str] = []
    for entry in previous:
        if not isinstance(entry, dict) or not isinstance(entry.get("day"), str):
            raise PlannerError(f"the planner's answer has a previous day without a day: {entry!r}"[:300])
        day, state, action = entry["day"], entry.get("state"), entry.get("action")
        found = f"{day}: {state}" + (f" ({entry['detail']})" if entry.get("detail") else "")
        needs_operator = action not in ("none", "in-progress", "rerun")
        if action == "none":
            line = f"{day}: _SUCCESS of run {entry.get('runId')}; nothing to do"
        elif action == "in-progress":
            line = f"{found}: run {entry.get('runId')} is younger than RUN_GRACE_MINUTES; left to finish"
        elif action == "rerun":
            line = (
                f"{found}: planned again as run {entry.get('newRunId')} "
                f"(automatic rerun {entry.get('autoReruns')})"
            )
        elif action == "cap-reached":
            line = (
                f"{found}: automatic reruns used up ({entry.get('autoReruns')}); an operator must "
                "look at it (docs/operations.md: npx grm gaps, replay, rerun)"
            )
        else:
            line = f"{found}: the planner did {action!r}, which this DAG does not know"
        if entry.get("email") == "sent":
            line += "; developers emailed"
        elif entry.get("email") == "failed":
            line += "; the developers could NOT be emailed (see the planner's log)"
            needs_operator = True
        if needs_operator:
            problems.append(line)
        lines.append(line)
    if problems:
        raise PreviousDaysProblem("earlier days need attention:\n" + "\n".join(problems))
    return lines


def planned_days(answer: Dict[str, Any]) -> List[str]:
    """The download step: one line per day the planner planned, its run and what it published.

    The workers then download the recordings batch by batch; the checker
    writes the day's _SUCCESS or _FAILURE when every batch has reported.
    Raises PlannerError when the answer says a day was not fully published.
    """
    lines: List[str] = []
    for entry in _days_of(answer):
        batches, published = entry.get("batches"), entry.get("published")
        if not isinstance(batches, int) or not isinstance(published, int):
            raise PlannerError(f"the planner's answer for {entry['day']} has no batch counts")
        if answer.get("dryRun") is True:
            raise PlannerError(f"the planner's answer for {entry['day']} is a dry run: nothing was planned")
        if published != batches:
            raise PlannerError(
                f"{entry['day']}: the planner published {published} of {batches} batches of run "
                f"{entry.get('runId')}"
            )
        lines.append(
            f"{entry['day']}: run {entry.get('runId')}, {entry.get('conversations')} conversations "
            f"in {batches} batches, all published to the workers; the checker writes _SUCCESS or "
            "_FAILURE when every batch has reported"
        )
    return lines


def _days_of(answer: Any) -> List[Dict[str, Any]]:
    if not isinstance(answer, dict):
        raise PlannerError("the planner's answer is not a JSON object")
    days = answer.get("days")
    if not isinstance(days, list) or not days:
        raise PlannerError('the planner\'s answer names no planned day ("days" is missing or empty)')
    for entry in days:
        if not isinstance(entry, dict) or not isinstance(entry.get("day"), str):
            raise PlannerError('the planner\'s answer has an entry of "days" without a day')
    return days


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects come back as HTTPError: the Authorization header must not follow them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def _read(res: Any) -> bytes:
    """The answer's body, at most MAX_ANSWER_BYTES + 1 bytes; IncompleteRead if it was cut short."""
    raw = res.read(MAX_ANSWER_BYTES + 1)
    raw = raw if isinstance(raw, bytes) else b""
    length = res.headers.get("Content-Length") if res.headers else None
    if length and length.isdigit() and len(raw) < min(int(length), MAX_ANSWER_BYTES + 1):
        raise http.client.IncompleteRead(raw, int(length) - len(raw))
    return raw


def _parse(raw: bytes) -> Tuple[Any, str]:
    text = raw[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
    if len(raw) > MAX_ANSWER_BYTES:
        return None, text
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def _backoff(attempt: int, retry_after: Optional[str], low: float, high: float) -> float:
    """Seconds to wait before the next attempt: the answer's Retry-After, else exponential."""
    if retry_after:
        seconds: Optional[float] = None
        value = retry_after.strip()
        if value.isdigit():
            seconds = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
                seconds = (when - datetime.now(timezone.utc)).total_seconds()
            except (TypeError, ValueError):
                seconds = None
        if seconds is not None:
            return min(max(seconds, 0.0), high)
    return min(low * 2 ** (attempt - 1), high)


def _hint(status: int) -> str:
    if status in (401, 403):
        return (
            " (Composer's service account needs roles/run.invoker on the planner: the Terraform "
            "variable composer_service_account; and the token's audience must be the planner's URL)"
        )
    if status == 404:
        return (
            " (is the URL the planner's, terraform output planner_url? With planner_ingress "
            "ALLOW_INTERNAL_ONLY, Composer needs a path through the VPC: docs/composer.md)"
        )
    return ""


def _redact(text: str, token: str) -> str:
    return text.replace(token, "[token]") if token else text


def _excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    flat = " ".join(text.split())
    return json.dumps(flat if len(flat) <= limit else flat[:limit] + "…", ensure_ascii=False)


def _describe(text: str, token: str) -> str:
    if not text.strip():
        return "an empty body"
    return f"a body that is not the planner's JSON: {_excerpt(_redact(text, token))}"
