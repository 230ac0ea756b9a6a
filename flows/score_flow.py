"""Batch scoring: every JSONL file under --inputs scored with the promoted (or a given) model.

``python flows/score_flow.py`` scores once. ``python flows/score_flow.py --serve --cron "*/10 * * * *"``
serves it as a scheduled deployment on the Prefect server named by PREFECT_API_URL.
"""

# No `from __future__ import annotations` here: Prefect builds the parameter schema from these
# annotations when a deployment loads the flow from its entrypoint, and needs them as real types.
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    # The command line first, before the heavy imports below (Prefect, torch, transformers: ~20 s on 2 cores):
    # --help and a bad option answer at once. flows/help.py imports argparse and pydantic only.
    from flows.help import parse_score_args

    COMMAND_LINE = parse_score_args(sys.argv[1:], __doc__)  # (config, --serve, --cron)

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, task
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.cli import run_command
from tasks.core.config import DEFAULT_SCORING_CRON, ScoreConfig
from tasks.core.crash_detection import ensure_crash_detection
from tasks.core.logs import quiet_data_error_tracebacks
from tasks.core.records import ScoredFile, ScoringInput
from tasks.core.retry import transient_only
from tasks.core.run_log import run_log, score_log_file
from tasks.core.temporary_server import tie_temporary_server_to_this_process
from tasks.drift.report import report_drift
from tasks.evaluation.model_source import locate_trained_model
from tasks.scoring.inputs import list_inputs
from tasks.scoring.score import score_file
from tasks.scoring.summary import fail_on_files_without_predictions, summarize_scoring
from tasks.ui.labels import score_run_name, score_tags, tag_flow_run

DEFAULTS = ScoreConfig()
# Distinct from prefect.yaml's work-pool deployment (batch-scoring-pool), so neither silently replaces the other.
SERVED_DEPLOYMENT = "batch-scoring-served"
# A transient I/O error retries the file; the lock, temp-file-and-rename and manifest make that safe.
score = score_file.with_options(retries=2, retry_delay_seconds=5, retry_condition_fn=transient_only)
find_input_files = task(list_inputs, name="find input files")
quiet_data_error_tracebacks()  # bad data ends with its message, not a stack trace (tasks/core/logs.py)


def task_runner_for(config: ScoreConfig) -> TaskRunner:
    if config.dask_address:
        return DaskTaskRunner(address=config.dask_address)
    if config.dask_workers:
        # One thread per worker process: torch in each worker then uses its own core.
        return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
            "n_workers": config.dask_workers, "threads_per_worker": 1, "processes": True})
    # One file at a time: a forward pass already uses every core (or the GPU); files queue behind it.
    return ThreadPoolTaskRunner(max_workers=1)


def score_files(inputs: list[ScoringInput], model_dir: Path, config: ScoreConfig) -> list[ScoredFile]:
    """Each file is a shard: on Dask, every worker loads the model once and scores the files it gets.

    The runner is entered here, not as a subflow's: the per-file task runs and their logs then belong to the
    scoring run itself (its Task Runs and Logs tabs), whichever runner the parameters chose.
    """
    with task_runner_for(config) as runner:
        futures = [runner.submit(score, {"input_path": item.path, "model_dir": model_dir, "cfg": config,
                                         "relative": item.relative}) for item in inputs]
        return [future.result() for future in futures]


@flow(name="score-jsonl", flow_run_name=score_run_name, log_prints=True)
def score_flow(config: ScoreConfig = DEFAULTS) -> list[ScoredFile]:
    """Score new JSONL files; files already scored with the same model and options are skipped."""
    # A new log file per run in the output folder: what the terminal shows, readable without the server.
    with run_log(score_log_file(config.output_dir), exclusive=True):
        return score_steps(config)


def score_steps(config: ScoreConfig) -> list[ScoredFile]:
    """The DAG itself, inside the scoring flow run."""
    ensure_crash_detection()  # for runs a worker started; main() already did it for runs started here
    model = locate_trained_model(str(config.model_dir) if config.model_dir else None, config.artifacts_dir)
    tag_flow_run(score_tags(model.name_or_path))
    listing = find_input_files(config.inputs, config.output_dir)
    # The runner is chosen per run, from the parameters, so a served deployment can scale out too.
    results = score_files(list(listing.files), Path(model.name_or_path), config)
    summarize_scoring(results, model.name_or_path, listing)
    report_drift(results, model.name_or_path, config)  # warns and emits an event; never fails the run
    fail_on_files_without_predictions(results)  # after every file is done: one bad file stops no other
    return results


def main(config: ScoreConfig, serve: bool = False, cron: str = DEFAULT_SCORING_CRON) -> None:
    # A run without PREFECT_API_URL starts a temporary server: it must not outlive a kill -9 of this process.
    tie_temporary_server_to_this_process()
    # Before the run's first heartbeat: a run killed before its second one is still marked CRASHED.
    ensure_crash_detection()
    if serve:
        # global_limit=1: a run that would overlap the previous one waits instead of racing it.
        score_flow.serve(name=SERVED_DEPLOYMENT, cron=cron, parameters={"config": config.model_dump(mode="json")},
                         global_limit=1, tags=["scoring"])
        return
    results = score_flow(config)
    for result in results:
        print(f"{result.status}: {result.input} -> {result.predictions}")


if __name__ == "__main__":
    run_command(main, *COMMAND_LINE)  # (config, --serve, --cron), parsed at the top before the heavy imports
