"""Soak-test helper: a flow named like the train flow and wired like it (ensure_crash_detection() first in its
body) that only sleeps, so runs of any length cost no CPU.

``python -m tests.flows.crash_sleeper SECONDS NAME`` is one run named NAME; ``... serve`` serves it as a
deployment on a one-minute cron, as ``flows/score_flow.py --serve`` does, without loading torch.
"""

import sys
import time

from prefect import flow

from tasks.core.crash_detection import ensure_crash_detection

SERVED = "crash-detection-served"


@flow(name="train-text-classifier")
def sleeper(seconds: float) -> None:
    ensure_crash_detection()
    time.sleep(seconds)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        sleeper.serve(name=SERVED, cron="* * * * *", parameters={"seconds": 0})
    else:
        sleeper.with_options(flow_run_name=sys.argv[2])(float(sys.argv[1]))
