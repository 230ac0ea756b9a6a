"""Drift per scored file (into its manifest) and per scoring run (a table artifact, a PNG, an event).

Never fails a run and never touches predictions: it reads the counts scoring already made. A run whose rows, or
one of whose files, reach the PSI alert threshold logs a warning and emits ``bert-batch-pipeline.drift.detected``
(an automation can notify on it; see the README).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

from prefect import task
from prefect.artifacts import create_table_artifact
from prefect.events import emit_event
from prefect.runtime import flow_run

from tasks.core.config import ScoreConfig
from tasks.core.files import read_json
from tasks.core.logs import logger
from tasks.core.records import ScoredFile
from tasks.drift.chart import save_drift_png
from tasks.drift.compare import compare
from tasks.drift.profile import profile_for
from tasks.drift.stats import FEATURES, empty_stats, merge_stats
from tasks.training.model import model_digest
from tasks.ui.images import images_markdown

P = ParamSpec("P")

EVENT = "bert-batch-pipeline.drift.detected"
NO_PROFILE = "no reference profile"
FAILED = "drift report failed"


def never_fails(report: Callable[P, dict]) -> Callable[P, dict]:
    """A report is a by-product: an error in it is logged with its trace, and scoring goes on as if it were absent."""
    @functools.wraps(report)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> dict:
        try:
            return report(*args, **kwargs)
        except Exception as exc:  # by design: drift must never fail a run
            logger().warning("%s: %s: %s", FAILED, type(exc).__name__, exc, exc_info=True)
            return {"status": FAILED, "error": f"{type(exc).__name__}: {exc}"}
    return guarded


def _compare(profile: dict, stats: dict, cfg: ScoreConfig) -> dict:
    return compare(profile, stats, cfg.drift_psi_watch, cfg.drift_psi_alert, cfg.drift_alpha, cfg.drift_min_rows)


@never_fails
def file_drift(input_path: Path, model_dir: Path, digest: str, stats: dict, cfg: ScoreConfig) -> dict:
    """The ``drift`` entry of a file's manifest; its counts stay in it so a run can merge its files."""
    profile = profile_for(str(model_dir), digest)
    if profile is None:
        return {"status": NO_PROFILE, "stats": stats}
    drift = _compare(profile, stats, cfg)
    if drift["status"] == "drift":
        logger().warning("%s: DRIFT against the training reference: %s", input_path, describe(drift))
    return drift


def describe(drift: dict) -> str:
    moved = ", ".join(f"{n} PSI {drift['psi'][n]:.2f} ({drift['levels'][n]})" for n in drift["moved"]) or "none"
    return (f"{drift['status']} over {drift['rows']} rows; features moved: {moved}; predicted-mix chi-square "
            f"p = {drift['label_mix_test']['p_value']:.3g}")


def _row(name: str, drift: dict) -> dict:
    row = {"file": name, "status": drift["status"], "rows": drift.get("rows", drift["stats"]["rows"]),
           "moved": ", ".join(drift.get("moved", []))}
    if "psi" in drift:
        row |= {f"PSI {n}": drift["psi"][n] for n in FEATURES}
        row["label-mix p"] = float(f"{drift['label_mix_test']['p_value']:.3g}")
        row["predicted mix"] = ", ".join(f"{k} {v:.2f}" for k, v in drift["predicted_mix"].items())
        row["estimated true mix (95% CI)"] = ", ".join(
            f"{k} {e['estimate']:.2f} [{e['low']:.2f}, {e['high']:.2f}]"
            for k, e in (drift["estimated_label_mix"] or {}).items())
    return row


@task(name="report drift")
@never_fails
def report_drift(results: list[ScoredFile], model_dir: str, cfg: ScoreConfig) -> dict:
    """Merge the files scored in this run, compare them with the reference, and publish the result."""
    profile = profile_for(model_dir, model_digest(Path(model_dir)))
    files = [(r.input, read_json(r.manifest).get("drift")) for r in results if r.status == "scored"]
    files = [(path, d) for path, d in files if d and "stats" in d]  # not failed ones
    run_name = flow_run.get_name() or "local"
    summary = {"status": NO_PROFILE if profile is None else "no rows scored", "figure": None}
    table = [_row(str(path), d) for path, d in files]
    description = f"Scoring run `{run_name}` with `{model_dir}` against its training reference profile."
    if profile is not None and files:
        total = empty_stats(len(profile["labels"]))
        for _, d in files:
            total = merge_stats(total, d["stats"])
        drift = _compare(profile, total, cfg)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = f"drift-{stamp}-{flow_run.get_id() or 'local'}.png"
        title = f"{run_name}: {drift['status']} over {drift['rows']} rows (reference: {drift['reference_rows']})"
        figure = save_drift_png(profile, drift, title,
                                cfg.output_dir.resolve() / "drift" / name)
        summary = {"status": drift["status"], "figure": str(figure), "run": drift}
        table.insert(0, _row("(this run, all files)", drift))
        description += f"\n\n**{describe(drift)}**\n\n{images_markdown([figure])}"
    flagged = [str(path) for path, d in files if d["status"] == "drift"]
    if summary["status"] == "drift" or flagged:
        logger().warning("drift detected in run %s: %s; files: %s; figure: %s", run_name,
                         describe(summary["run"]), flagged, summary["figure"])
        emit_event(event=EVENT, resource={"prefect.resource.id": f"bert-batch-pipeline.scoring.{flow_run.get_id()}",
                                          "prefect.resource.name": run_name},
                   related=[{"prefect.resource.id": f"prefect.flow-run.{flow_run.get_id()}",
                             "prefect.resource.role": "flow-run"}] if flow_run.get_id() else [],
                   payload={"flow_run_id": flow_run.get_id(), "flow_run_name": run_name, "model_dir": model_dir,
                            "files": flagged, "figure": summary["figure"], "moved": summary["run"]["moved"],
                            "psi": summary["run"]["psi"], "estimated_label_mix": summary["run"]["estimated_label_mix"]})
    elif profile is not None:
        logger().info("drift report for run %s: %s", run_name, summary["status"])
    create_table_artifact(key="scoring-drift", table=table or [{"file": "", "status": summary["status"]}],
                          description=description)
    return summary
