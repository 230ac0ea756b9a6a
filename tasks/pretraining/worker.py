"""One torchrun rank of distributed pre-training: fine-tuning's worker (tasks/training/worker.py), run on the
masked-LM job and loop. Launched as ``python -m torch.distributed.run ... -m tasks.pretraining.worker job.json``.
"""

from __future__ import annotations

import sys

from tasks.pretraining.loop import MlmJob, run_pretraining
from tasks.training.worker import run_worker

if __name__ == "__main__":
    run_worker(sys.argv[1], MlmJob, run_pretraining)
