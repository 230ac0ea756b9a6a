import pytest
from prefect import flow, task

from tasks.core.errors import DataError
from tasks.core.retry import transient_only


def test_a_transient_error_is_retried_and_bad_data_is_not(prefect_server):
    calls = {"io": 0, "data": 0}

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=transient_only)
    def flaky_io():
        calls["io"] += 1
        if calls["io"] == 1:
            raise OSError("disk hiccup")
        return "ok"

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=transient_only)
    def bad_data():
        calls["data"] += 1
        raise DataError("train.jsonl:3: missing label")

    @flow
    def both():
        return flaky_io(), bad_data()

    with pytest.raises(DataError, match="missing label"):
        both()
    assert calls == {"io": 2, "data": 1}
