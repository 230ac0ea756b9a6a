"""Soak-test helper: ``python -m tests.flows.soak_driver N ARGS...`` runs the scoring command N times in one process.

Python, torch and Prefect are imported once, so many flow runs fit in the soak test's few minutes on 2 cores.
"""

import sys

from flows.help import parse_score_args
from flows.score_flow import main

if __name__ == "__main__":
    runs, argv = int(sys.argv[1]), sys.argv[2:]
    for run in range(runs):
        try:
            main(*parse_score_args(argv))
            print(f"soak run {run}: ok", flush=True)
        except Exception as exc:  # keep going: the test counts failed runs from the server's states
            print(f"soak run {run}: failed {exc!r}", flush=True)
