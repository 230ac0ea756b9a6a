"""Work on the next item in a thread while the caller uses this one: overlap where a library lets go of the GIL.

The Rust tokenizer, Parquet reads and writes and torch's kernels all release the GIL; the Python around them
(lists of ids, Arrow columns, JSON lines) does not. Running the next item's call beside this item's Python keeps
every core busy without processes, so nothing has to be pickled and the order of results is the input's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def one_ahead(items: Iterable[T], work: Callable[[T], R]) -> Iterator[tuple[T, R]]:
    """``(item, work(item))`` in order, ``work`` of the next item already running in a thread meanwhile.

    An exception from ``work`` is raised where its result is due; leaving the loop early waits for the one call
    in flight, so no thread outlives it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="one-ahead") as pool:
        pending: tuple[T, Future[R]] | None = None
        for item in items:
            future = pool.submit(work, item)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (item, future)
        if pending is not None:
            yield pending[0], pending[1].result()


def in_order(items: Iterable[T], work: Callable[[T], R], ahead: bool) -> Iterator[tuple[T, R]]:
    """``one_ahead`` when ``ahead``, else each item's work in turn in this thread."""
    if ahead:
        yield from one_ahead(items, work)
    else:
        for item in items:
            yield item, work(item)
