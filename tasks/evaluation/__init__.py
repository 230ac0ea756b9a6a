"""Evaluation: choosing the model on dev, judging it on test, and deciding whether it is promoted.

Reads the fine-tuned settings' evaluations and models, the token cache and the rows files. Picks the best dev
evaluation over every setting and calibrates it (``selection``, ``calibration``), predicts the test split in
input order (``predict``), computes metrics with bootstrap intervals (``report``, ``bootstrap``), compares with a
TF-IDF baseline on the same rows (``baseline``, ``comparison``) and applies the promotion gate (``promote``).
Writes ``predictions/``, ``metrics.json``, ``comparison.json``, ``plots/``, ``report.md``, the promoted-model
pointer and the run's UI artifacts. Main tasks: ``select model on dev``, ``predict``, ``test report``,
``promote model``, ``write report``.
"""
