"""Core: what every stage may use, and nothing that knows about a stage.

The one module of defaults (``config``: a pydantic model per flow), the records that cross task boundaries
(``records``), the two kinds of failure (``errors``: bad data is never retried, running out of device memory is)
and the retry policy built on them, atomic file writes and digests (``files``), logging inside and outside a
Prefect run, device and precision choice, the run directory under ``artifacts/runs/``, the temporary Prefect
server and crashed-run detection. It reads and writes nothing of its own beyond a run's ``config.json`` and
``cache_keys.json``. Bottom layer: it imports no other package of ``tasks``.
"""
