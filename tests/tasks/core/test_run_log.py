"""The run's log file: its own flow run's lines and its task runs', never another run's, and nothing left behind."""

import logging
import re
import threading
from pathlib import Path

import pytest
from prefect import flow, task

from tasks.core.errors import DataError
from tasks.core.logs import logger, quiet_data_error_tracebacks
from tasks.core.run_log import RUN_LOGGERS, run_log, score_log_file

LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| (INFO   |WARNING|ERROR  ) \| ")


@pytest.fixture(autouse=True)
def info_lines():
    """conftest quiets Prefect to WARNING; these runs' INFO lines (prints among them) are what is tested."""
    run_loggers = [logging.getLogger(name) for name in ("prefect.flow_runs", "prefect.task_runs")]
    levels = [target.level for target in run_loggers]
    handlers = {name: list(logging.getLogger(name).handlers) for name in RUN_LOGGERS}
    for target in run_loggers:
        target.setLevel(logging.INFO)
    yield
    for target, level in zip(run_loggers, levels, strict=True):
        target.setLevel(level)
    # Every test: the file handler is gone again, and nothing else was added or taken away.
    assert {name: list(logging.getLogger(name).handlers) for name in RUN_LOGGERS} == handlers


@task(task_run_name="shout")
def shout(word: str) -> str:
    logger().info("task says %s", word)
    print(f"printed {word}")
    logger().warning(f"careful with {word}")
    return word


@task(task_run_name="fail")
def fail() -> None:
    raise DataError("row 3 has no label")


BESIDE_OPEN, FIRST_DONE = threading.Event(), threading.Event()


@flow(flow_run_name="logged-{word}", log_prints=True)
def logged(word: str, path: Path, beside: Path | None = None) -> list:
    """With ``beside``, another run of this flow in a thread of its own, its file open while this run logs and
    logging while this run's file is still open."""
    said = []
    with run_log(path):
        other = threading.Thread(target=lambda: said.append(logged(f"{word}-beside", beside)))
        if beside:
            other.start()
            assert BESIDE_OPEN.wait(60)
        elif word.endswith("-beside"):
            BESIDE_OPEN.set()
            assert FIRST_DONE.wait(60)
        print(f"flow {word} prints")
        said.append(shout(word))
        if beside:
            FIRST_DONE.set()
            other.join()
    return said


@flow(flow_run_name="failing", log_prints=True)
def failing(path: Path) -> None:
    with run_log(path):
        fail()


def test_the_file_holds_this_runs_lines_and_not_those_of_a_run_beside_it_or_after_it(prefect_server, tmp_path):
    mine, beside = tmp_path / "alpha" / "run.log", tmp_path / "beside.log"
    BESIDE_OPEN.clear(), FIRST_DONE.clear()
    assert sorted(map(str, logged("alpha", mine, beside))) == ["['alpha-beside']", "alpha"]  # both ran
    logged("gamma", tmp_path / "gamma.log")  # after the block: the handler is gone
    text = mine.read_text(encoding="utf-8")
    for line in ("| INFO    | Flow run 'logged-alpha' - flow alpha prints",
                 "| INFO    | Task run 'shout' - task says alpha",
                 "| INFO    | Task run 'shout' - printed alpha",
                 "| WARNING | Task run 'shout' - careful with alpha"):
        assert line in text, line
    assert "beside" not in text and "gamma" not in text
    assert all(LINE.match(line) for line in text.splitlines()) and "\x1b" not in text  # plain, dated lines
    other = beside.read_text(encoding="utf-8")
    assert "Task run 'shout' - task says alpha-beside" in other and "Flow run 'logged-alpha'" not in other
    assert "flow alpha prints" not in other


def test_a_failing_task_leaves_its_data_error_as_its_message(prefect_server, tmp_path):
    quiet_data_error_tracebacks()  # as the flows do on import
    path = tmp_path / "run.log"
    with pytest.raises(DataError):
        failing(path)
    text = path.read_text(encoding="utf-8")
    assert re.search(r"\| ERROR   \| Task run 'fail' - .*row 3 has no label", text)
    # The flow's own end, which the engine logs after the block, is the file's last line.
    assert text.splitlines()[-1].endswith("| ERROR   | Flow run 'failing' - Ended with DataError: row 3 has no label")
    assert "Traceback" not in text


def test_outside_a_run_the_file_takes_the_pipeline_logger_and_no_flow_run(prefect_server, tmp_path):
    path = tmp_path / "plain.log"
    with run_log(path):
        logger().warning("no run here")
        logged("delta", tmp_path / "delta.log")
    text = path.read_text(encoding="utf-8")
    assert "| WARNING | pipeline - no run here" in text and "delta" not in text


def test_a_scoring_runs_file_is_new_and_an_existing_file_is_never_touched(prefect_server, tmp_path):
    @flow(flow_run_name="named")
    def named() -> tuple[str, str]:
        from prefect.runtime import flow_run
        return str(score_log_file(tmp_path)), flow_run.get_id()

    path, run_id = named()
    assert re.fullmatch(re.escape(str(tmp_path / "logs")) + rf"/score-\d{{8}}T\d{{6}}Z-{run_id}\.log", path)
    taken = tmp_path / "taken.log"
    taken.write_text("someone else's\n", encoding="utf-8")
    with pytest.raises(FileExistsError), run_log(taken, exclusive=True):
        pass
    assert taken.read_text(encoding="utf-8") == "someone else's\n"
    with run_log(taken):  # appending adds to it, never truncates
        logger().warning("added")
    assert taken.read_text(encoding="utf-8").startswith("someone else's\n")
