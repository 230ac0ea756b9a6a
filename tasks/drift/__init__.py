"""Drift: is a scored batch still like the data the model was chosen on?

At training time, profiles the model on dev (``profile``) into ``model/profile.json``: binned text lengths,
unknown-token share, truncation, confidence and predicted labels (``stats``). At scoring time, compares each
file's and the run's counts with that profile (PSI, a chi-square test, ``compare``) and estimates the true label
mix under label shift (``label_shift``). Writes drift into each scored file's manifest, a ``scoring-drift``
table artifact, a chart and an event (``report``). Main tasks: ``profile model on dev``, ``report drift``.
"""
