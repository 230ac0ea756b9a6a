"""Training: fine-tuning one setting, in one process or under torchrun with DDP, resumable at any step.

Reads the token cache and a pretrained encoder (or builds a small one from scratch). The classifier (``model``),
the loop of one process (``loop``, ``steps``, ``book``) with dev evaluations by epoch or by step, early stopping,
in-epoch progress, atomic checkpoints that resume byte-identically (``checkpoint``), out-of-memory retries with
smaller micro-batches (``memory``), and the torchrun launcher and worker (``launch``, ``worker``). Batched
inference and the classification metrics live here because dev evaluation needs them. Writes the setting's
checkpoints and ``best/`` model under the run directory. Main task: ``fine-tune``.
"""
