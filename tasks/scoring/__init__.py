"""Scoring: bulk prediction over JSONL files, every row accounted for, each output written exactly once.

Reads a saved model (a run's, or the promoted one) and ``--inputs`` (a file, a folder or a glob; ``inputs``).
Streams each file in chunks (``files``), writes ``<name>.pred.jsonl`` (and optionally Parquet,
``parquet_copy``), ``<name>.rejects.jsonl`` and a manifest that says what "already scored" means (``state``)
and lets a downstream job check the output (``verify``). Summarizes the run in the UI (``summary``, ``chart``).
Never overwrites or deletes a file it did not write. Main tasks: ``score file``, ``summarize scoring``.
"""
