import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.core.overlap import in_order, one_ahead


@given(st.lists(st.integers()), st.booleans())
def test_every_item_comes_back_once_in_order_with_its_result(items, ahead):
    assert list(in_order(iter(items), lambda x: x * 3 + 1, ahead)) == [(x, x * 3 + 1) for x in items]


def test_the_next_items_work_runs_in_another_thread_while_this_one_is_used():
    started = {i: threading.Event() for i in range(3)}
    threads = {}

    def work(i):
        threads[i] = threading.current_thread().name
        started[i].set()
        return i

    for i, _ in one_ahead(range(3), work):
        if i < 2:  # item i+1's work has begun before the caller is done with item i
            assert started[i + 1].wait(timeout=10)
    assert all(name.startswith("one-ahead") for name in threads.values())


def test_an_error_in_the_work_is_raised_at_its_items_turn():
    def work(i):
        if i == 2:
            raise ValueError("bad item 2")
        return i

    seen = []
    with pytest.raises(ValueError, match="bad item 2"):
        for i, _ in one_ahead(range(5), work):
            seen.append(i)
    assert seen == [0, 1]


def test_leaving_early_leaves_no_thread_running():
    done = []
    for i, _ in one_ahead(range(100), lambda i: done.append(i) or i):
        if i == 3:
            break
    assert not [t for t in threading.enumerate() if t.name.startswith("one-ahead")]
    assert done == list(range(len(done))) and len(done) <= 5  # at most one item's work beyond the last used
