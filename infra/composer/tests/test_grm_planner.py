"""grm_planner against a scripted HTTP server (the standard library's): the request it sends
(token, headers, body), and every way an answer can go wrong (retries, refusals, redirects,
timeouts, answers that are not the planner's)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys
import threading
import time
import types
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import grm_planner  # noqa: E402

TOKEN = "eyJ-test-id-token.secret-part"

Reply = Tuple[int, Dict[str, str], bytes]


def json_reply(status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


class ScriptedServer:
    """Answers each POST with the next scripted reply (the last one repeats) and keeps the requests."""

    def __init__(self, *replies: Reply, delay: float = 0.0) -> None:
        self.replies: List[Reply] = list(replies)
        self.requests: List[Dict[str, Any]] = []
        self.delay = delay
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                status, headers, body = outer.replies[min(len(outer.requests), len(outer.replies)) - 1]
                if outer.delay:
                    time.sleep(outer.delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if "Content-Length" not in headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Sleeps(list):
    """A sleep that records its delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


SUMMARY = {
    "dryRun": False,
    "previous": [{"day": "2026-06-10", "state": "success", "runId": "r1", "action": "none"}],
    "days": [
        {
            "day": "2026-06-11",
            "runId": "r2",
            "window": {},
            "conversations": 7,
            "batches": 1,
            "published": 1,
        }
    ],
}


class PlannerCallTest(unittest.TestCase):
    def serve(self, *replies: Reply, delay: float = 0.0) -> ScriptedServer:
        server = ScriptedServer(*replies, delay=delay)
        self.addCleanup(server.close)
        return server

    def call(self, server: ScriptedServer, body: Any = None, **options: Any) -> Dict[str, Any]:
        options.setdefault("token_fetcher", lambda audience: TOKEN)
        options.setdefault("sleep", Sleeps())
        options.setdefault("timeout", 5)
        return grm_planner.call_planner(server.url, body, **options)

    def test_sends_the_injected_token_for_the_planner_url_and_the_run_time(self) -> None:
        server = self.serve(json_reply(202, SUMMARY))
        audiences: List[str] = []

        def fetcher(audience: str) -> str:
            audiences.append(audience)
            return TOKEN

        run_time = datetime(2026, 6, 14, 2, 0, tzinfo=timezone(timedelta(hours=2)))
        answer = grm_planner.plan_night(server.url + "/", run_time, token_fetcher=fetcher, sleep=Sleeps())
        self.assertEqual(answer, SUMMARY)
        self.assertEqual(audiences, [server.url], "the audience is the service URL")
        [request] = server.requests
        headers = {k.lower(): v for k, v in request["headers"].items()}
        self.assertEqual(headers["authorization"], f"Bearer {TOKEN}")
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["x-cloudscheduler-scheduletime"], "2026-06-14T00:00:00Z")
        self.assertEqual(json.loads(request["body"]), {"checkPrevious": True})
        self.assertEqual(request["path"], "/")

    def test_sends_no_run_time_header_without_a_run_time(self) -> None:
        server = self.serve(json_reply(200, {"dryRun": True, "days": []}))
        self.call(server, {"day": "2026-06-11", "dryRun": True})
        headers = {k.lower() for k in server.requests[0]["headers"]}
        self.assertNotIn("x-cloudscheduler-scheduletime", headers)
        self.assertEqual(json.loads(server.requests[0]["body"]), {"day": "2026-06-11", "dryRun": True})

    def test_retries_429_and_5xx_with_backoff_and_honours_retry_after(self) -> None:
        server = self.serve(
            json_reply(429, {"error": "slow down"}, {"Retry-After": "7"}),
            json_reply(500, {"error": "planning failed; see the logs"}),
            (503, {"Content-Type": "text/html"}, b"<html>Service Unavailable</html>"),
            json_reply(202, SUMMARY),
        )
        sleeps = Sleeps()
        with self.assertLogs("grm_planner", "WARNING") as logs:
            answer = self.call(server, sleep=sleeps, min_backoff=2, max_backoff=600)
        self.assertEqual(answer, SUMMARY)
        self.assertEqual(len(server.requests), 4)
        self.assertEqual(sleeps, [7.0, 4.0, 8.0], "Retry-After, then 2 s doubling by attempt")
        self.assertIn("answered 429 (slow down), attempt 1 of 4", logs.output[0])
        self.assertTrue(all(TOKEN not in line for line in logs.output))

    def test_caps_the_backoff_and_a_retry_after_date(self) -> None:
        later = (datetime.now(timezone.utc) + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
        server = self.serve(
            json_reply(503, {"error": "busy"}, {"Retry-After": later}),
            json_reply(503, {"error": "busy"}, {"Retry-After": "soon"}),
            json_reply(202, SUMMARY),
        )
        sleeps = Sleeps()
        with self.assertLogs("grm_planner", "WARNING"):
            self.call(server, sleep=sleeps, min_backoff=100, max_backoff=150, max_attempts=3)
        self.assertEqual(sleeps, [150.0, 150.0], "a date two hours ahead capped; an unreadable value ignored")

    def test_gives_up_after_max_attempts_with_the_planners_error(self) -> None:
        server = self.serve(json_reply(500, {"error": "planning failed; see the logs"}))
        sleeps = Sleeps()
        with self.assertLogs("grm_planner", "WARNING"), self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server, sleep=sleeps, max_attempts=3, min_backoff=1)
        err = caught.exception
        self.assertEqual((err.status, err.attempts, err.error), (500, 3, "planning failed; see the logs"))
        self.assertEqual(len(server.requests), 3)
        self.assertEqual(sleeps, [1.0, 2.0])
        self.assertIn("answered 500 after 3 attempts: planning failed; see the logs", str(err))

    def test_refusals_raise_at_once_with_the_planners_json_error(self) -> None:
        for status, error in [
            (400, 'unknown field: "dayy"; known: day, from, to'),
            (409, "2026-12-01 is too recent"),
            (413, "the range covers 40 days; at most 31 per request"),
        ]:
            with self.subTest(status=status):
                server = self.serve(json_reply(status, {"error": error}))
                sleeps = Sleeps()
                with self.assertRaises(grm_planner.PlannerError) as caught:
                    self.call(server, sleep=sleeps)
                err = caught.exception
                self.assertEqual((err.status, err.error, err.attempts), (status, error, 1))
                self.assertEqual(err.answer, {"error": error})
                self.assertEqual(f"the planner answered {status} after 1 attempt: {error}", str(err))
                self.assertEqual((len(server.requests), sleeps), (1, []))

    def test_says_what_to_check_on_401_403_and_404(self) -> None:
        for status, hint in [(401, "roles/run.invoker"), (403, "composer_service_account"), (404, "planner_ingress")]:
            with self.subTest(status=status):
                server = self.serve((status, {"Content-Type": "text/html"}, b"<html><b>Forbidden</b>\n</html>"))
                with self.assertRaises(grm_planner.PlannerError) as caught:
                    self.call(server)
                self.assertIn(hint, str(caught.exception))
                self.assertIn('not the planner\'s JSON: "<html><b>Forbidden</b> </html>"', str(caught.exception))
                self.assertIsNone(caught.exception.error)

    def test_never_puts_the_token_in_an_error(self) -> None:
        server = self.serve(json_reply(400, {"error": f"bad header Bearer {TOKEN}"}))
        with self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server)
        self.assertNotIn(TOKEN, str(caught.exception))
        self.assertNotIn(TOKEN, caught.exception.error or "")
        self.assertIn("bad header Bearer [token]", str(caught.exception))
        server = self.serve((502, {}, f"proxy saw {TOKEN}".encode()))
        with self.assertLogs("grm_planner", "WARNING") as logs, self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server, max_attempts=2)
        self.assertNotIn(TOKEN, str(caught.exception) + "".join(logs.output))

    def test_refuses_a_2xx_that_is_not_a_json_object(self) -> None:
        for body, said in [(b"<html>ok</html>", "not the planner's JSON"), (b"[1]", "[1]"), (b"", "an empty body")]:
            with self.subTest(body=body):
                server = self.serve((202, {}, body))
                with self.assertRaises(grm_planner.PlannerError) as caught:
                    self.call(server)
                self.assertIn("answered 202 with", str(caught.exception))
                self.assertIn(said, str(caught.exception))

    def test_refuses_an_answer_too_big_to_be_the_planners(self) -> None:
        big = json.dumps({"days": [], "pad": "x" * grm_planner.MAX_ANSWER_BYTES}).encode()
        server = self.serve((202, {"Content-Type": "application/json"}, big))
        with self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server)
        self.assertIn("not a JSON object", str(caught.exception))
        self.assertLess(len(str(caught.exception)), 400)

    def test_follows_no_redirect(self) -> None:
        elsewhere = self.serve(json_reply(202, SUMMARY))
        for status in (301, 302, 307, 308):
            with self.subTest(status=status):
                server = self.serve((status, {"Location": elsewhere.url + "/steal"}, b""))
                with self.assertRaises(grm_planner.PlannerError) as caught:
                    self.call(server)
                self.assertEqual(caught.exception.status, status)
                self.assertIn("not followed", str(caught.exception))
        self.assertEqual(elsewhere.requests, [], "the token never went elsewhere")

    def test_does_not_retry_a_request_that_got_no_answer(self) -> None:
        server = self.serve(json_reply(202, SUMMARY), delay=2)
        sleeps = Sleeps()
        with self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server, timeout=0.5, sleep=sleeps)
        self.assertIn("no answer (nothing within 0.5 s); it may still be planning", str(caught.exception))
        self.assertIsNone(caught.exception.status)
        self.assertEqual((len(server.requests), sleeps), (1, []), "a second request could plan the day again")

    def test_a_body_cut_short(self) -> None:
        cut = {"Content-Type": "application/json", "Content-Length": "100"}
        server = self.serve((400, cut, b'{"err'))
        with self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server)
        self.assertEqual(caught.exception.status, 400, "the status is the answer")
        self.assertIn("answered 400 after 1 attempt: a body cut short", str(caught.exception))
        server = self.serve((202, cut, b'{"days'))
        sleeps = Sleeps()
        with self.assertRaises(grm_planner.PlannerError) as caught:
            self.call(server, sleep=sleeps)
        self.assertIn("no answer (IncompleteRead); it may still be planning", str(caught.exception))
        self.assertEqual((len(server.requests), sleeps), (1, []))

    def test_retries_a_connection_that_could_not_be_made(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        sleeps = Sleeps()
        with self.assertLogs("grm_planner", "WARNING"), self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.call_planner(
                f"http://127.0.0.1:{port}",
                token_fetcher=lambda a: TOKEN,
                sleep=sleeps,
                max_attempts=3,
                min_backoff=5,
            )
        self.assertEqual(sleeps, [5.0, 10.0])
        self.assertEqual(caught.exception.attempts, 3)
        self.assertIn(f"could not reach the planner at http://127.0.0.1:{port} after 3 attempts", str(caught.exception))


class TokenTest(unittest.TestCase):
    def test_refuses_urls_a_token_must_not_go_to_before_fetching_one(self) -> None:
        fetched: List[str] = []
        for url in ["http://planner.example.com", "ftp://127.0.0.1/", "https://user:pw@example.com", "planner"]:
            with self.subTest(url=url), self.assertRaises(ValueError):
                grm_planner.call_planner(url, token_fetcher=fetched.append)
        self.assertEqual(fetched, [])
        self.assertEqual(grm_planner.planner_audience("https://grm-planner-abc-ew.a.run.app/x?y=1"), "https://grm-planner-abc-ew.a.run.app")
        self.assertEqual(grm_planner.planner_audience("http://localhost:8080/"), "http://localhost:8080")

    def test_a_failing_fetcher_is_a_planner_error(self) -> None:
        def broken(audience: str) -> str:
            raise RuntimeError("metadata server unreachable")

        with self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.call_planner("https://planner.example.com", token_fetcher=broken)
        self.assertEqual(
            str(caught.exception),
            'could not get an ID token for https://planner.example.com: RuntimeError: "metadata server unreachable"',
        )
        with self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.call_planner("https://planner.example.com", token_fetcher=lambda a: "")
        self.assertIn("no ID token", str(caught.exception))

    def test_default_fetcher_calls_google_auth_fetch_id_token(self) -> None:
        calls: List[Tuple[Any, str]] = []
        request = object()
        google = types.ModuleType("google")
        oauth2 = types.ModuleType("google.oauth2")
        id_token = types.ModuleType("google.oauth2.id_token")
        auth = types.ModuleType("google.auth")
        transport = types.ModuleType("google.auth.transport")
        requests = types.ModuleType("google.auth.transport.requests")
        id_token.fetch_id_token = lambda req, audience: calls.append((req, audience)) or "minted"  # type: ignore[attr-defined]
        requests.Request = lambda: request  # type: ignore[attr-defined]
        google.oauth2, google.auth, oauth2.id_token = oauth2, auth, id_token  # type: ignore[attr-defined]
        auth.transport, transport.requests = transport, requests  # type: ignore[attr-defined]
        fakes = {
            "google": google,
            "google.oauth2": oauth2,
            "google.oauth2.id_token": id_token,
            "google.auth": auth,
            "google.auth.transport": transport,
            "google.auth.transport.requests": requests,
        }
        saved = {name: sys.modules.get(name) for name in fakes}
        sys.modules.update(fakes)
        try:
            self.assertEqual(grm_planner.fetch_id_token("https://planner.example.com"), "minted")
        finally:
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
        self.assertEqual(calls, [(request, "https://planner.example.com")])

    def test_default_fetcher_without_google_auth_says_so(self) -> None:
        saved = sys.modules.get("google.oauth2")
        sys.modules["google.oauth2"] = None  # type: ignore[assignment]  # makes the import fail
        try:
            with self.assertRaises(grm_planner.PlannerError) as caught:
                grm_planner.fetch_id_token("https://planner.example.com")
        finally:
            if saved is None:
                sys.modules.pop("google.oauth2", None)
            else:
                sys.modules["google.oauth2"] = saved
        self.assertIn("google-auth is not installed", str(caught.exception))

    def test_run_time_must_be_aware(self) -> None:
        with self.assertRaises(ValueError):
            grm_planner.format_run_time(datetime(2026, 6, 14))
        self.assertEqual(
            grm_planner.format_run_time(datetime(2026, 6, 13, 19, 0, 5, tzinfo=timezone(timedelta(hours=-5)))),
            "2026-06-14T00:00:05Z",
        )


def previous(**entry: Any) -> Dict[str, Any]:
    return {"dryRun": False, "previous": [{"day": "2026-06-10", **entry}], "days": SUMMARY["days"]}


class StepsTest(unittest.TestCase):
    def test_check_previous_reports_each_day_and_what_the_planner_did(self) -> None:
        lines = grm_planner.check_previous(
            {
                "previous": [
                    {"day": "2026-06-08", "state": "success", "runId": "r8", "action": "none"},
                    {
                        "day": "2026-06-09",
                        "state": "incomplete",
                        "detail": "1 of 2 batch reports written, no marker",
                        "runId": "r9",
                        "action": "in-progress",
                        "autoReruns": 0,
                    },
                    {
                        "day": "2026-06-10",
                        "state": "failure",
                        "detail": "3 recordings missing",
                        "runId": "r10",
                        "action": "rerun",
                        "newRunId": "r10b",
                        "autoReruns": 1,
                        "email": "sent",
                    },
                ],
                "days": SUMMARY["days"],
            }
        )
        self.assertEqual(
            lines,
            [
                "2026-06-08: _SUCCESS of run r8; nothing to do",
                "2026-06-09: incomplete (1 of 2 batch reports written, no marker): run r9 is younger than "
                "RUN_GRACE_MINUTES; left to finish",
                "2026-06-10: failure (3 recordings missing): planned again as run r10b (automatic rerun 1); "
                "developers emailed",
            ],
        )

    def test_check_previous_without_previous_days(self) -> None:
        self.assertEqual(
            grm_planner.check_previous({"days": SUMMARY["days"]}),
            ["the planner checked no earlier day (check_previous_days is 0, or the request was a dry run)"],
        )

    def test_check_previous_fails_when_a_day_needs_an_operator(self) -> None:
        cases = [
            (
                previous(state="failure", detail="2 missing", runId="r", action="cap-reached", autoReruns=2, email="sent"),
                "automatic reruns used up (2); an operator must look at it",
            ),
            (
                previous(state="not-planned", action="rerun", newRunId="r2", autoReruns=1, email="failed"),
                "the developers could NOT be emailed",
            ),
            (previous(state="failure", action="shrug"), "the planner did 'shrug', which this DAG does not know"),
        ]
        for answer, said in cases:
            with self.subTest(said=said), self.assertRaises(grm_planner.PreviousDaysProblem) as caught:
                grm_planner.check_previous(answer)
            self.assertIn("2026-06-10", str(caught.exception))
            self.assertIn(said, str(caught.exception))

    def test_check_previous_names_a_day_once_however_many_problems_it_has(self) -> None:
        answer = previous(state="failure", runId="r", action="cap-reached", autoReruns=2, email="failed")
        with self.assertRaises(grm_planner.PreviousDaysProblem) as caught:
            grm_planner.check_previous(answer)
        self.assertEqual(
            str(caught.exception),
            "earlier days need attention:\n2026-06-10: failure: automatic reruns used up (2); an operator "
            "must look at it (docs/operations.md: npx grm gaps, replay, rerun); the developers could NOT "
            "be emailed (see the planner's log)",
        )

    def test_check_previous_refuses_an_answer_that_is_not_the_planners(self) -> None:
        for answer in [[], {"previous": "2026-06-10"}, {"previous": [{"state": "success"}]}]:
            with self.subTest(answer=answer), self.assertRaises(grm_planner.PlannerError):
                grm_planner.check_previous(answer)  # type: ignore[arg-type]

    def test_planned_days_reports_the_run_and_its_batches(self) -> None:
        self.assertEqual(
            grm_planner.planned_days(SUMMARY),
            [
                "2026-06-11: run r2, 7 conversations in 1 batches, all published to the workers; the "
                "checker writes _SUCCESS or _FAILURE when every batch has reported"
            ],
        )

    def test_planned_days_fails_on_an_answer_that_did_not_start_the_export(self) -> None:
        day = dict(SUMMARY["days"][0])  # type: ignore[index]
        cases = [
            ({"days": [{**day, "published": 0}]}, "published 0 of 1 batches of run r2"),
            ({"dryRun": True, "days": [day]}, "is a dry run"),
            ({"days": [{**day, "batches": None}]}, "has no batch counts"),
            ({"days": []}, "names no planned day"),
            ({}, "names no planned day"),
            ({"days": [{"runId": "r"}]}, "without a day"),
            ("not a dict", "not a JSON object"),
        ]
        for answer, said in cases:
            with self.subTest(said=said), self.assertRaises(grm_planner.PlannerError) as caught:
                grm_planner.planned_days(answer)  # type: ignore[arg-type]
            self.assertIn(said, str(caught.exception))

    def test_plan_night_refuses_an_answer_without_days(self) -> None:
        server = ScriptedServer(json_reply(202, {"dryRun": False}))
        self.addCleanup(server.close)
        with self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.plan_night(server.url, datetime.now(timezone.utc), token_fetcher=lambda a: TOKEN)
        self.assertIn("names no planned day", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
