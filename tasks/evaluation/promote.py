"""The promotion gate: a run's model becomes the one the scoring flow uses only if it earns it.

A scheduled scorer picks up whatever was promoted, so the default gate must stop a broken model by itself, not
only when the user remembered ``--promote_min_accuracy``. Its fixed checks (tasks/evaluation/gate.py): the model
predicts more than one class, and it beats always answering the test set's most frequent class, with the paired
95 % bootstrap interval of the difference clear of zero. A TF-IDF baseline that is significantly better is a loud
warning, or with ``--promote_require_baseline`` a refusal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefect import task

from tasks.core.config import PromotionRules
from tasks.core.files import read_json, write_json
from tasks.core.logs import logger
from tasks.core.records import Predictions, Promotion, RunDir
from tasks.evaluation.gate import Check, baseline_check, fixed_checks
from tasks.evaluation.metric_records import BaselineResult, TestMetrics
from tasks.evaluation.predict import read_scores

POINTER_NAME = "latest_model.json"


def current_pointer(output_dir: Path) -> dict | None:
    path = output_dir / POINTER_NAME
    return read_json(path) if path.is_file() else None


def rule_checks(accuracy: float, rules: PromotionRules, current: dict | None) -> list[Check]:
    """The user's own thresholds: ``--promote_min_accuracy`` and ``--promote_if_better``."""
    checks = [Check(passed=accuracy >= rules.min_accuracy,
                    text=f"test accuracy {accuracy:.4f} {'>=' if accuracy >= rules.min_accuracy else '<'} "
                         f"--promote_min_accuracy {rules.min_accuracy:.4f}")]
    if rules.if_better:
        if current is None:
            checks.append(Check(passed=True, text="no model was promoted before (--promote_if_better)"))
        else:
            best = current["test_accuracy"]
            checks.append(Check(passed=accuracy >= best,
                                text=f"test accuracy {accuracy:.4f} {'>=' if accuracy >= best else '<'} the promoted "
                                     f"model's {best:.4f} ({current['model_dir']}; --promote_if_better)"))
    return checks


def decide(checks: list[Check]) -> tuple[bool, str]:
    """Promoted when every check passed; the reason names the failed ones, else all of them."""
    failed = [c.text for c in checks if not c.passed]
    return (not failed), "; ".join(failed or [c.text for c in checks if not c.warning])


@task(name="promote model")
def promote_model(run: RunDir, metrics: TestMetrics, predictions: Predictions, baseline: BaselineResult | None,
                  output_dir: Path, rules: PromotionRules) -> Promotion:
    """Write ``latest_model.json`` when the model passes the gate; ``promotion.json`` in the run either way."""
    _, y_true, y_pred, _ = read_scores(predictions.scores)
    labels = metrics.confusion_matrix.labels
    checks = [*fixed_checks(y_true, y_pred, labels), *rule_checks(metrics.accuracy, rules, current_pointer(output_dir))]
    if baseline is not None and baseline.comparison is not None:
        checks.append(baseline_check(baseline.comparison.test.difference["accuracy"], rules.require_baseline))
    promoted, reason = decide(checks)
    pointer = output_dir / POINTER_NAME
    if promoted:
        write_json(pointer, {
            "model_dir": str(run.model_dir.resolve()), "run_dir": str(run.path.resolve()),
            "model_digest": predictions.model_digest, "test_accuracy": metrics.accuracy,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        })
    warnings = [c.text for c in checks if c.warning]
    for text in warnings:
        logger().warning("promotion: %s", text)
    (logger().info if promoted else logger().warning)("%s: %s", "promoted" if promoted else "NOT PROMOTED", reason)
    result = Promotion(promoted=promoted, reason=reason, pointer=pointer, checks=[c.line() for c in checks],
                       warnings=warnings)
    write_json(run.file("promotion.json"), result.model_dump(mode="json"))
    return result
