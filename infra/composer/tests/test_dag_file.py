"""The DAG file, read as Python source (Airflow is not installed here, so it is parsed, never
imported): the schedule and settings the original design and docs/composer.md promise, tasks
that call grm_planner, and no URL or secret written into it."""

from __future__ import annotations

import ast
import os
import sys
import unittest
from typing import Dict, List

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAG_FILE = os.path.join(HERE, "genesys_recording_migrator_dag.py")
sys.path.insert(0, HERE)

import grm_planner  # noqa: E402


def parse() -> ast.Module:
    with open(DAG_FILE, encoding="utf-8") as f:
        return ast.parse(f.read(), DAG_FILE)


def decorator(fn: ast.FunctionDef, name: str) -> ast.Call:
    [call] = [
        d for d in fn.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == name
    ]
    return call


def keywords(call: ast.Call) -> Dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords if k.arg}


class DagFileTest(unittest.TestCase):
    def setUp(self) -> None:
        self.module = parse()
        [self.dag_fn] = [
            n
            for n in self.module.body
            if isinstance(n, ast.FunctionDef) and any(ast.unparse(d).startswith("dag(") for d in n.decorator_list)
        ]
        self.dag = keywords(decorator(self.dag_fn, "dag"))

    def literal(self, name: str) -> object:
        return ast.literal_eval(self.dag[name])

    def test_settings_of_the_original_dag(self) -> None:
        self.assertEqual(self.literal("dag_id"), "genesys_recording_migrator_download_recordings")
        self.assertIs(self.literal("catchup"), False)
        self.assertEqual(self.literal("max_active_runs"), 1)
        self.assertEqual(self.literal("default_args")["retries"], 0)  # type: ignore[index]
        self.assertNotIn("schedule_interval", self.dag, "deprecated since Airflow 2.4")

    def test_runs_at_the_deployments_schedule_in_its_time_zone(self) -> None:
        # The cron schedule and the zone of start_date (the zone Airflow runs the cron in) are
        # what grm_planner.nightly_schedule reads from the environment, never written here.
        [assign] = [
            n
            for n in self.module.body
            if isinstance(n, ast.Assign) and "nightly_schedule" in ast.unparse(n.value)
        ]
        self.assertEqual(ast.unparse(assign), "SCHEDULE, TIME_ZONE = grm_planner.nightly_schedule(os.environ)")
        self.assertEqual(ast.unparse(self.dag["schedule"]), "SCHEDULE")
        start = self.dag["start_date"]
        self.assertIsInstance(start, ast.Call)
        self.assertEqual(ast.unparse(start), "pendulum.datetime(2022, 10, 21, tz=TIME_ZONE)")

    def test_the_dag_is_instantiated(self) -> None:
        calls = [
            n.value.func.id
            for n in self.module.body
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Name)
        ]
        self.assertEqual(calls, [self.dag_fn.name])

    def test_each_task_calls_its_grm_planner_step(self) -> None:
        tasks: Dict[str, List[str]] = {}
        for fn in self.dag_fn.body:
            if isinstance(fn, ast.FunctionDef):
                task_id = ast.literal_eval(keywords(decorator(fn, "task"))["task_id"])
                tasks[task_id] = sorted(
                    n.func.attr
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Call)
                    and isinstance(n.func, ast.Attribute)
                    and isinstance(n.func.value, ast.Name)
                    and n.func.value.id == "grm_planner"
                )
        self.assertEqual(
            tasks,
            {
                "plan_export": ["plan_night"],
                "check_previous": ["check_previous"],
                "download_recordings": ["planned_days"],
            },
        )
        for name in ("plan_night", "check_previous", "planned_days"):
            self.assertTrue(callable(getattr(grm_planner, name)), name)
        # plan_export feeds both steps.
        wiring = ast.unparse(self.dag_fn).split("\n")[-3:]  # type: ignore[arg-type]
        self.assertEqual(
            [line.strip() for line in wiring],
            ["answer = plan_export()", "check_previous(answer)", "download_recordings(answer)"],
        )

    def test_holds_no_url_token_or_key(self) -> None:
        strings = [n.value for n in ast.walk(self.module) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        for s in strings:
            self.assertNotRegex(s, r"https?://|eyJ|Bearer |BEGIN [A-Z ]*PRIVATE KEY", s[:80])
        self.assertIn("grm_planner_url", strings, "the planner's URL comes from an Airflow Variable")


if __name__ == "__main__":
    unittest.main()


class NightlyScheduleTest(unittest.TestCase):
    """grm_planner.nightly_schedule: the deployment's schedule and time zone, or Terraform's defaults."""

    def test_unset_is_terraforms_defaults(self) -> None:
        with open(os.path.join(HERE, "..", "variables.tf"), encoding="utf-8") as f:
            text = f.read()

        def default(name: str) -> str:
            block = text[text.index(f'variable "{name}"') :]
            return ast.literal_eval(block[block.index("default") :].split("=", 1)[1].split("\n", 1)[0].strip())

        self.assertEqual(grm_planner.nightly_schedule({}), (default("schedule"), default("time_zone")))
        self.assertEqual(grm_planner.nightly_schedule({"GRM_SCHEDULE": " ", "GRM_TIME_ZONE": ""}), ("0 0 * * *", "Etc/UTC"))

    def test_reads_the_environment(self) -> None:
        env = {"GRM_SCHEDULE": "30  2 * * 1-5", "GRM_TIME_ZONE": "Europe/Brussels"}
        self.assertEqual(grm_planner.nightly_schedule(env), ("30 2 * * 1-5", "Europe/Brussels"))
        self.assertEqual(grm_planner.nightly_schedule({"GRM_SCHEDULE": "0 0 * * MON,THU"})[0], "0 0 * * MON,THU")

    def test_refuses_what_would_run_at_another_time(self) -> None:
        for schedule in ("0 0 * *", "0 0 0 * * *", "@daily", "0 0 * * * ; rm"):
            with self.assertRaises(ValueError, msg=schedule):
                grm_planner.nightly_schedule({"GRM_SCHEDULE": schedule})
        for zone in ("Mars/Olympus", "../etc/passwd", "UTC+2"):
            with self.assertRaises(ValueError, msg=zone):
                grm_planner.nightly_schedule({"GRM_TIME_ZONE": zone})


class AirflowIgnoreTest(unittest.TestCase):
    def test_only_the_dag_file_is_parsed_as_a_dag(self) -> None:
        with open(os.path.join(HERE, ".airflowignore"), encoding="utf-8") as f:
            patterns = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        self.assertIn("grm_planner.py", patterns)
        self.assertIn("tests/", patterns)
        self.assertNotIn("genesys_recording_migrator_dag.py", patterns)

    def test_a_missing_planner_url_variable_is_read_as_none_on_airflow_2_and_3(self) -> None:
        calls = [
            n
            for n in ast.walk(parse())
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "get"
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "Variable"
        ]
        self.assertTrue(calls, "the DAG reads an Airflow Variable")
        for call in calls:
            default = keywords(call).get("default")
            self.assertIsInstance(default, ast.Constant)
            self.assertIsNone(default.value)  # type: ignore[union-attr]
