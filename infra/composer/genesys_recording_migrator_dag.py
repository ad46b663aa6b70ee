"""genesys-recording-migrator's nightly run, triggered from Cloud Composer.

The original design's DAG: every night it asks the planner to export the day
`window_lag_days` before (docs/composer.md), at the deployment's `schedule`
in its `time_zone` (the Terraform variables Cloud Scheduler's job uses), set
on the environment as GRM_SCHEDULE and GRM_TIME_ZONE (terraform output
composer_environment_variables; unset, Terraform's defaults: 00:00 UTC).
Instead of Cloud Scheduler, set the Terraform variable
`composer_service_account`: it lets the environment's service account invoke
the planner and pauses the scheduler job, so each day is planned once.

Tasks:

- plan_export: the nightly request to the planner (grm_planner.plan_night),
  with an ID token for its URL and the run's time. The planner checks the
  previous days (reruns one without _SUCCESS, emails the developers), then
  plans the day and publishes its batches to the workers.
- check_previous: what that check found and did, one line per earlier day;
  fails when a day needs an operator (its automatic reruns are used up) or
  the developers could not be emailed.
- download_recordings: the day's export the planner started (run id,
  conversations, batches published); the workers download the recordings
  and the checker writes _SUCCESS or _FAILURE when every batch has reported.

The planner has no check-only request, so check_previous and
download_recordings both read plan_export's answer.

Configuration: the Airflow Variable `grm_planner_url` (the Terraform output
planner_url), or the environment variable AIRFLOW_VAR_GRM_PLANNER_URL. No
secret is involved: the ID token is fetched at run time for the
environment's service account.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

import pendulum

try:  # Airflow 3
    from airflow.sdk import Variable, dag, task
except ImportError:  # Airflow 2.4 and later
    from airflow.decorators import dag, task
    from airflow.models import Variable

import grm_planner

PLANNER_URL_VARIABLE = "grm_planner_url"

# Read when the file is parsed: the schedule is part of the DAG. Airflow runs a
# cron schedule in the time zone of the DAG's start_date.
SCHEDULE, TIME_ZONE = grm_planner.nightly_schedule(os.environ)

log = logging.getLogger("airflow.task")


def planner_url() -> str:
    """The planner's URL, from the Airflow Variable (read when a task runs, not when the file is parsed)."""
    # default=None on both Airflow 2 (else KeyError) and 3 (else AirflowRuntimeError).
    url = Variable.get(PLANNER_URL_VARIABLE, default=None)
    if not url:
        raise ValueError(
            f"set the Airflow Variable {PLANNER_URL_VARIABLE} to the planner's URL "
            "(terraform output -raw planner_url)"
        )
    return url.strip()


@dag(
    dag_id="genesys_recording_migrator_download_recordings",
    description="Trigger for downloading recordings with Genesys: genesys-recording-migrator's planner.",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2022, 10, 21, tz=TIME_ZONE),
    # Only the latest night runs when the DAG is unpaused or Composer was down:
    # check-previous covers the day before, grm rerun or a {"from","to"} request the rest.
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    # grm_planner retries 429 and 5xx itself; an Airflow retry after a request with no
    # answer could plan the day a second time.
    default_args={"owner": "genesys-recording-migrator", "retries": 0},
    tags=["genesys-recording-migrator"],
    doc_md=__doc__,
)
def genesys_recording_migrator_download_recordings():
    @task(task_id="plan_export", execution_timeout=timedelta(hours=2))
    def plan_export(data_interval_end=None) -> dict:
        # The run's time: a late or retried run still plans the day of its night.
        run_time = data_interval_end or pendulum.now("UTC")
        log.info("asking the planner to export the night of %s", run_time)
        return grm_planner.plan_night(planner_url(), run_time)

    @task(task_id="check_previous")
    def check_previous(answer: dict) -> None:
        for line in grm_planner.check_previous(answer):
            log.info("%s", line)

    @task(task_id="download_recordings")
    def download_recordings(answer: dict) -> None:
        for line in grm_planner.planned_days(answer):
            log.info("%s", line)

    answer = plan_export()
    check_previous(answer)
    download_recordings(answer)


genesys_recording_migrator_download_recordings()
