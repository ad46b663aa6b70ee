"""grm_planner against a real planner: the local stack's (test/e2e/composer.spec.ts starts it and
runs this with its URL). Without GRM_TEST_PLANNER_URL these tests are skipped, and that spec
counts a skip as a failure.

The environment names the night to run: GRM_TEST_RUN_TIME (the run's time), GRM_TEST_DAY (the
day that night exports) and GRM_TEST_PREVIOUS_DAY (the day before it, never planned); the DAG's
answers are written to GRM_TEST_OUTPUT for the spec to check against the bucket.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import grm_planner  # noqa: E402

URL = os.environ.get("GRM_TEST_PLANNER_URL", "")
# The local stack checks it as Cloud Run would: an ID token of the Composer identity for the URL.
TOKEN = os.environ.get("GRM_TEST_ID_TOKEN", "")


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"the call was retried (sleep {seconds} s): the planner's answer is final")


@unittest.skipUnless(URL, "GRM_TEST_PLANNER_URL is not set (run through test/e2e/composer.spec.ts)")
class AgainstLocalPlannerTest(unittest.TestCase):
    audiences: List[str] = []

    def options(self) -> Dict[str, Any]:
        def fetcher(audience: str) -> str:
            self.audiences.append(audience)
            return TOKEN

        return {"token_fetcher": fetcher, "timeout": 120, "sleep": no_sleep}

    def test_the_nightly_request_checks_the_previous_day_and_plans_the_day(self) -> None:
        run_time = datetime.fromisoformat(os.environ["GRM_TEST_RUN_TIME"].replace("Z", "+00:00"))
        day, prev = os.environ["GRM_TEST_DAY"], os.environ["GRM_TEST_PREVIOUS_DAY"]

        answer = grm_planner.plan_night(URL, run_time, **self.options())

        self.assertEqual(self.audiences[-1], URL.rstrip("/"))
        self.assertEqual([d["day"] for d in answer["days"]], [day])
        [checked] = answer["previous"]
        self.assertEqual(
            (checked["day"], checked["state"], checked["action"], checked["email"]),
            (prev, "not-planned", "rerun", "sent"),
        )
        [check_line] = grm_planner.check_previous(answer)
        self.assertEqual(
            check_line,
            f"{prev}: not-planned (no plan: the day was never exported): planned again as run "
            f"{checked['newRunId']} (automatic rerun 1); developers emailed",
        )
        planned = answer["days"][0]
        self.assertGreater(planned["batches"], 0)
        [download_line] = grm_planner.planned_days(answer)
        self.assertTrue(
            download_line.startswith(
                f"{day}: run {planned['runId']}, {planned['conversations']} conversations in "
                f"{planned['batches']} batches, all published"
            ),
            download_line,
        )
        output = os.environ.get("GRM_TEST_OUTPUT")
        if output:
            with open(output, "w", encoding="utf-8") as f:
                json.dump(answer, f)

    def test_a_day_too_recent_is_refused_with_the_planners_message_and_not_retried(self) -> None:
        tomorrow = datetime.now(timezone.utc) + timedelta(days=1)
        with self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.plan_night(URL, tomorrow, **self.options())
        err = caught.exception
        self.assertEqual((err.status, err.attempts), (409, 1))
        self.assertRegex(err.error or "", r"^\d{4}-\d{2}-\d{2} is too recent: with WINDOW_LAG_DAYS=")
        self.assertIn(f"the planner answered 409 after 1 attempt: {err.error}", str(err))
        self.assertNotIn(TOKEN, str(err))

    def test_a_malformed_request_is_refused_with_the_planners_message(self) -> None:
        with self.assertRaises(grm_planner.PlannerError) as caught:
            grm_planner.call_planner(URL, {"dayy": "2026-06-11"}, **self.options())
        self.assertEqual(caught.exception.status, 400)
        self.assertEqual(caught.exception.answer, {"error": caught.exception.error})
        self.assertIn('unknown field: "dayy"', caught.exception.error or "")


if __name__ == "__main__":
    unittest.main()
