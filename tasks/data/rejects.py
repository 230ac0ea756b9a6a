"""Rejected rows as they stream past: each written to the file's rejects JSONL, counted, a few kept for messages.

A file with millions of bad rows must not hold them in memory to say what is wrong: the sink keeps the
count per reason and the first lines of each reason, which is all a message or the report shows.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from tasks.core.files import json_line, temporary_for
from tasks.data.jsonl import BadRow
from tasks.data.quality import count_by_reason

SHOWN_ERRORS = 5  # reasons (and first rejected rows) named in a message
SHOWN_LINES = 3  # lines named per reason
KEPT_REASONS = 1000  # distinct reasons remembered for messages; the counts by reason class are always complete


class RejectSink:
    """``with RejectSink(source, target) as bad: bad.add(row)``; ``target`` appears (atomically) only if a row
    was rejected and the block ended without an exception.

    With ``publish=False`` the complete file stays under its temporary name, ``staged``, for the caller to rename
    once its other outputs are ready too (the scorer publishes a file's outputs together)."""

    def __init__(self, source: Path, target: Path, publish: bool = True):
        self.source, self.target, self.publish = source, target, publish
        self.staged: Path | None = None
        self.count = 0
        self.first: list[BadRow] = []
        self._classes: Counter = Counter()
        self._lines: dict[str, list[int]] = {}
        self._counts: Counter = Counter()
        self._more_reasons = False  # distinct reasons past KEPT_REASONS were seen (counted, not remembered)
        self._fh = None
        self._tmp = temporary_for(target)

    def __enter__(self) -> RejectSink:
        return self

    def add(self, bad: BadRow) -> None:
        if self._fh is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self._tmp, "w", encoding="utf-8")
        self._fh.write(json_line(bad.record(self.source)) + "\n")
        self.count += 1
        if len(self.first) < SHOWN_ERRORS:
            self.first.append(bad)
        self._classes.update(count_by_reason([bad.reason]))
        if bad.reason in self._lines or len(self._lines) < KEPT_REASONS:
            self._counts[bad.reason] += 1
            lines = self._lines.setdefault(bad.reason, [])
            if len(lines) < SHOWN_LINES:
                lines.append(bad.line)
        else:
            self._more_reasons = True

    def __exit__(self, kind, value, traceback) -> None:
        if self._fh is None:
            return
        self._fh.close()
        if kind is not None:
            self._tmp.unlink(missing_ok=True)
        elif self.publish:
            os.replace(self._tmp, self.target)
        else:
            self.staged = self._tmp

    def by_reason(self) -> dict[str, int]:
        """Counts per reason class ('not valid JSON' whatever the column), most frequent first."""
        return dict(self._classes.most_common())

    def reasons_with_lines(self) -> str:
        """Each distinct reason once, with its first lines: five alike rows are one problem, not five."""
        parts = []
        for reason, lines in list(self._lines.items())[:SHOWN_ERRORS]:
            extra = self._counts[reason] - len(lines)
            more = f" and {extra} more" if extra > 0 else ""
            parts.append(f"line{'s' if self._counts[reason] > 1 else ''} {', '.join(map(str, lines))}{more}: {reason}")
        if len(self._lines) > SHOWN_ERRORS:
            parts.append(f"{'more than ' if self._more_reasons else ''}{len(self._lines) - SHOWN_ERRORS} other reasons")
        return "; ".join(parts)
