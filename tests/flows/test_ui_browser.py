"""What a person sees: a real Prefect server, a real training run, and its pages in headless chromium.

Screenshots go to $UI_SCREENSHOTS_DIR when set (that is how docs/screenshots/ is refreshed), else to tmp.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.files import read_json
from tests.flows.test_postgres_server import free_port, stop, wait_healthy
from tests.prefect_ui import run_view

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]

# The training run, as a user would start it against a server: its own process, PREFECT_API_URL set.
TRAIN = """
import sys
from pathlib import Path
from flows.train_flow import train_flow
from tests.flows.test_train_flow import tiny_config
folder, data = Path(sys.argv[1]), Path(sys.argv[2])
print("report:", train_flow(tiny_config(folder, {s: data / f"{s}.jsonl" for s in ("train", "dev", "test")},
                                        num_train_epochs=3)))
"""


@pytest.fixture
def server(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    # PREFECT_UI_API_URL: the UI's browser code calls this; left unset it would call port 4200.
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                        "PREFECT_API_URL": api, "PREFECT_UI_API_URL": api,
                        "PREFECT_LOGGING_LEVEL": "INFO"}  # conftest quiets logs; this run's go to the UI
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        wait_healthy(api, proc, 180)
        yield api, env
    finally:
        stop(proc)


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("UI_SCREENSHOTS_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(page, url: str, wait_for: str) -> str:
    page.goto(url)
    page.get_by_text(wait_for).first.wait_for(timeout=60_000)  # the UI renders after its API calls return
    page.wait_for_load_state("networkidle")
    return page.inner_text("body")


def table_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.split("\t")] for row in page.locator("tbody tr").all_inner_texts()]


def test_training_run_pages_show_the_epoch_table_and_test_report(server, binary_data, tmp_path):
    from playwright.sync_api import sync_playwright

    api, env = server
    out = subprocess.run([sys.executable, "-c", TRAIN, str(tmp_path), str(binary_data["train"].parent)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = Path(out.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent
    epochs, metrics = read_json(run / "epochs.json"), read_json(run / "metrics.json")
    with temporary_settings({PREFECT_API_URL: api}):
        view = run_view(run.name)
    ui, shots = api.removesuffix("/api"), shots_dir(tmp_path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            dataset = binary_data["train"].parent.name
            body = open_page(page, f"{ui}/runs/flow-run/{view.flow_run.id}", "Task Runs")
            assert f"train scratch-bert-1x64 on {dataset}" in body and "Completed" in body
            assert f"dataset:{dataset}" in body and "model:scratch-bert-1x64" in body
            # The Logs tab: task logs reach the server through Prefect's run logger (tasks/logs.py).
            assert f"train: {{'lines': {len(binary_data['train'].read_text().splitlines())}," in body
            page.screenshot(path=shots / "flow-run.png")

            page.locator("li.p-tab#task-runs").click()  # tabs are not addressable by URL
            page.get_by_text("tokenize train").first.wait_for(timeout=60_000)
            body = page.inner_text("body")
            assert "fine-tune lr=0.003 bs=16" in body and "predict test" in body

            open_page(page, f"{ui}/artifacts/artifact/{view.keyed('training-epochs').id}", "dev accuracy")
            expected = [[str(e["epoch"]), f"{e['train_loss']:.4f}", f"{e['dev_accuracy']:.4f}",
                         f"{e['dev_macro_f1']:.4f}", f"{e['learning_rate']:.2e}"] for e in epochs]
            assert [row[:5] for row in table_rows(page)] == expected
            assert [row[-1] == "selected" for row in table_rows(page)] == [e["selected"] for e in epochs]
            page.screenshot(path=shots / "training-epochs.png")

            body = open_page(page, f"{ui}/artifacts/artifact/{view.keyed('test-report').id}", "Confusion matrix")
            interval = metrics["intervals"]["accuracy"]
            assert (f"Accuracy {metrics['accuracy']:.4f} [{interval['low']:.4f}, {interval['high']:.4f}] "
                    f"on {metrics['rows']} rows") in body
            rows = table_rows(page)
            for name, m in metrics["per_class"].items():
                cells = [f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"])]
                assert [name, *cells] in rows
            names, matrix = metrics["confusion_matrix"]["labels"], metrics["confusion_matrix"]["matrix"]
            for name, counts in zip(names, matrix, strict=True):
                assert [name, *map(str, counts)] in rows
            assert "plots/reliability.png" in body
            page.screenshot(path=shots / "test-report.png")

            body = open_page(page, f"{ui}/artifacts/artifact/{view.keyed('model-and-predictions').id}", "promoted")
            assert str(run / "model") in body and str(run / "predictions/test.jsonl") in body
            page.screenshot(path=shots / "model-and-predictions.png")
        finally:
            browser.close()
    for plot in (run / "plots").glob("*.png"):  # the run's own plots, beside the pages that mention them
        shutil.copy(plot, shots / plot.name)
    assert all((shots / name).stat().st_size > 10_000 for name in
               ("flow-run.png", "training-epochs.png", "test-report.png", "model-and-predictions.png"))
