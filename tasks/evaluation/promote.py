"""The promotion gate: a run's model becomes the one the scoring flow uses only if it earns it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import task

from tasks.core.files import read_json, write_json
from tasks.core.logs import logger
from tasks.core.records import Promotion, RunDir
from tasks.evaluation.metric_records import TestMetrics

POINTER_NAME = "latest_model.json"


def current_pointer(output_dir: Path) -> dict | None:
    path = output_dir / POINTER_NAME
    return read_json(path) if path.is_file() else None


def gate(accuracy: float, min_accuracy: float, if_better: bool, current: dict | None) -> tuple[bool, str]:
    if accuracy < min_accuracy:
        return False, f"test accuracy {accuracy:.4f} is below --promote_min_accuracy {min_accuracy:.4f}"
    if if_better and current is not None and accuracy < current["test_accuracy"]:
        return False, (f"test accuracy {accuracy:.4f} is below the promoted model's "
                       f"{current['test_accuracy']:.4f} ({current['model_dir']})")
    why = f"test accuracy {accuracy:.4f} >= --promote_min_accuracy {min_accuracy:.4f}"
    if if_better:
        why += " and not below the promoted model's" if current else " and no model was promoted before"
    return True, why


@task(name="promote model")
def promote_model(
    run: RunDir, metrics: TestMetrics, model_digest: str, output_dir: Path, min_accuracy: float, if_better: bool
) -> Promotion:
    pointer = output_dir / POINTER_NAME
    promoted, reason = gate(metrics.accuracy, min_accuracy, if_better, current_pointer(output_dir))
    if promoted:
        write_json(pointer, {
            "model_dir": str(run.model_dir.resolve()), "run_dir": str(run.path.resolve()),
            "model_digest": model_digest, "test_accuracy": metrics.accuracy,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })
    logger().info("%s: %s", "promoted" if promoted else "not promoted", reason)
    result = Promotion(promoted=promoted, reason=reason, pointer=pointer)
    write_json(run.file("promotion.json"), result.model_dump(mode="json"))
    return result
