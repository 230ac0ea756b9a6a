"""What a person sees: a real Prefect server, a real training and scoring run, and their pages in headless chromium.

The class names are Chinese (the plots must draw them), and every plot on an artifact page must really be
rendered by the browser. Screenshots go to $UI_SCREENSHOTS_DIR when set (that is how docs/screenshots/ is
refreshed), else to tmp.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import pytest
from PIL import Image
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.settings import PREFECT_API_URL, temporary_settings

from tasks.core.files import read_json
from tasks.ui.fonts import PACKAGED_CJK_FONT
from tests.builders import learnable_rows, write_jsonl, write_learnable
from tests.flows.test_postgres_server import free_port, stop, wait_healthy
from tests.prefect_ui import latest_artifact, run_view

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]

# The training run, as a user would start it against a server: its own process, PREFECT_API_URL set.
TRAIN = """
import sys
from importlib import resources
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


def browser_env(tmp_path: Path) -> dict[str, str]:
    """Chromium's environment: fontconfig also reads the plots' CJK font, so the UI's tables show the Chinese
    class names as a user's desktop browser would (a bare Debian machine has no CJK font for the browser)."""
    fonts = resources.files(PACKAGED_CJK_FONT[0]) / PACKAGED_CJK_FONT[1]
    config = tmp_path / "fonts.conf"
    config.write_text(f"""<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>
<include ignore_missing="yes">/etc/fonts/fonts.conf</include><dir>{Path(str(fonts)).parent}</dir>
<cachedir>{tmp_path / "fontconfig-cache"}</cachedir></fontconfig>""")
    return os.environ | {"FONTCONFIG_FILE": str(config)}


def open_page(page, url: str, wait_for: str) -> str:
    page.goto(url)
    page.get_by_text(wait_for).first.wait_for(timeout=60_000)  # the UI renders after its API calls return
    page.wait_for_load_state("networkidle")
    return page.inner_text("body")


def rendered_images(page, count: int) -> list[dict]:
    """The page's data-URI images once the browser has decoded ``count`` of them: alt text and natural size.

    naturalWidth is 0 for an image the browser could not load or decode, and the markdown alone proves nothing.
    """
    page.wait_for_function("""n => {
        const shown = [...document.images].filter(i => i.src.startsWith('data:image/png'));
        return shown.length >= n && shown.every(i => i.complete && i.naturalWidth > 0);
    }""", arg=count, timeout=60_000)
    return page.evaluate("""() => [...document.images].filter(i => i.src.startsWith('data:image/png'))
        .map(i => ({alt: i.alt, width: i.naturalWidth, height: i.naturalHeight,
                    shown: i.getBoundingClientRect().width}))""")


def png_sizes(run: Path, *names: str) -> list[tuple[str, int, int]]:
    sizes = []
    for name in names:
        with Image.open(run / "plots" / f"{name}.png") as image:
            sizes.append((name.replace("_", " "), image.width, image.height))
    return sizes


def table_rows(page) -> list[list[str]]:
    return [[cell.strip() for cell in row.split("\t")] for row in page.locator("tbody tr").all_inner_texts()]


def scheduled_scoring_run(env: dict[str, str], tmp_path: Path):
    """Serve the scoring deployment on a cron of every minute and return its first run once it completed."""
    argv = ["flows/score_flow.py", "--serve", "--cron", "* * * * *", "--inputs", str(tmp_path / "incoming"),
            "--output_dir", str(tmp_path / "scored"), "--artifacts_dir", str(tmp_path / "artifacts")]
    served = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env | {"PREFECT_RUNNER_POLL_FREQUENCY": "2"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)

    async def completed():
        async with get_client() as client:
            return await client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["batch-scoring-served"])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=["COMPLETED", "FAILED", "CRASHED"]))))
    try:
        deadline = time.monotonic() + 240  # up to a minute to the next whole minute, then the run itself
        while not (runs := asyncio.run(completed())):
            assert time.monotonic() < deadline and served.poll() is None, "no scheduled run finished"
            time.sleep(2)
    finally:
        stop(served)
    (run,) = runs
    assert run.state.is_completed() and run.auto_scheduled, run.state
    return run


def test_training_and_scoring_pages_show_the_tables_report_and_plots(server, tmp_path):
    from playwright.sync_api import sync_playwright

    api, env = server
    data = write_learnable(tmp_path / "zh-labels", ["负面", "正面"])
    out = subprocess.run([sys.executable, "-c", TRAIN, str(tmp_path), str(data["train"].parent)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = Path(out.stdout.strip().splitlines()[-1].removeprefix("report: ")).parent
    epochs, metrics = read_json(run / "epochs.json"), read_json(run / "metrics.json")
    for i, rows in enumerate((120, 40)):  # scoring with the promoted model: the scoring-summary chart
        write_jsonl(tmp_path / "incoming" / f"part-{i}.jsonl", learnable_rows(["负面", "正面"], rows, seed=i))
    out = subprocess.run([sys.executable, "flows/score_flow.py", "--inputs", str(tmp_path / "incoming"),
                          "--output_dir", str(tmp_path / "scored"), "--artifacts_dir", str(tmp_path / "artifacts")],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    # Then a scheduled run of the served deployment, with one new file beside the two scored above.
    write_jsonl(tmp_path / "incoming/part-2.jsonl", learnable_rows(["负面", "正面"], 25, seed=2))
    with temporary_settings({PREFECT_API_URL: api}):
        scheduled = scheduled_scoring_run(env, tmp_path)
        view, summary = run_view(run.name), latest_artifact("scoring-summary")
    assert summary.flow_run_id == scheduled.id
    ui, shots = api.removesuffix("/api"), shots_dir(tmp_path)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"],
                                             env=browser_env(tmp_path))
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            dataset = data["train"].parent.name
            body = open_page(page, f"{ui}/runs/flow-run/{view.flow_run.id}", "Task Runs")
            assert f"train scratch-bert-1x64 on {dataset}" in body and "Completed" in body
            assert f"dataset:{dataset}" in body and "model:scratch-bert-1x64" in body
            # The Logs tab: task logs reach the server through Prefect's run logger (tasks/core/logs.py).
            assert f"train: {{'lines': {len(data['train'].read_text().splitlines())}," in body
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
            assert f"{run}/plots/reliability.png" in body
            images = rendered_images(page, 2)
            assert [(i["alt"], i["width"], i["height"]) for i in images] == png_sizes(
                run, "confusion_matrix", "reliability")
            page.screenshot(path=shots / "test-report.png")
            page.get_by_alt_text("confusion matrix").scroll_into_view_if_needed()
            page.screenshot(path=shots / "test-report-plots.png")

            open_page(page, f"{ui}/artifacts/artifact/{view.keyed('training-plots').id}", "Plots of run")
            images = rendered_images(page, 3)
            assert [(i["alt"], i["width"], i["height"]) for i in images] == png_sizes(
                run, "training_curves", "confusion_matrix", "reliability")
            assert all(i["shown"] >= 0.9 * i["width"] for i in images)  # at their own size, not squeezed
            page.set_viewport_size({"width": 1280, "height": 1800})  # the page scrolls inside: a tall window
            page.screenshot(path=shots / "training-plots.png")
            page.set_viewport_size({"width": 1280, "height": 800})

            body = open_page(page, f"{ui}/artifacts/artifact/{view.keyed('model-and-predictions').id}", "promoted")
            assert str(run / "model") in body and str(run / "predictions/test.jsonl") in body
            page.screenshot(path=shots / "model-and-predictions.png")

            body = open_page(page, f"{ui}/artifacts/artifact/{summary.id}", "part-1.jsonl")
            assert "Scored 1 file in this run: 25 rows scored and 0 rejected of 25, in " in body
            assert "Not scored: 2 files already scored with this model and these options." in body
            incoming = tmp_path / "incoming"  # whole paths: same-named files in two folders stay apart
            rows = table_rows(page)
            skipped = "skipped: already scored with this model and these options"
            assert [row[:2] for row in rows[:2]] == [[str(incoming / "part-0.jsonl"), skipped],
                                                     [str(incoming / "part-1.jsonl"), skipped]]
            assert rows[2][:5] == [str(incoming / "part-2.jsonl"), "scored", "25", "25", "0"]
            (chart,) = rendered_images(page, 1)
            assert chart["alt"] == "rows and texts/s per file" and chart["width"] > 400
            page.screenshot(path=shots / "scoring-summary.png")

            # The scheduled run itself: named for its input folder, its per-file task runs in it (no subflow).
            body = open_page(page, f"{ui}/runs/flow-run/{scheduled.id}", "Task Runs")
            assert "score incoming" in body and "Completed" in body
            page.locator("li.p-tab#task-runs").click()
            page.get_by_text("score part-2.jsonl").first.wait_for(timeout=60_000)
            body = page.inner_text("body")
            assert "score part-0.jsonl" in body and "summarize scoring" in body
            page.screenshot(path=shots / "scheduled-scoring-run.png")
        finally:
            browser.close()
    for plot in (run / "plots").glob("*.png"):  # the run's own plots, beside the pages that mention them
        shutil.copy(plot, shots / plot.name)
    assert all((shots / name).stat().st_size > 10_000 for name in
               ("flow-run.png", "training-epochs.png", "test-report.png", "training-plots.png",
                "model-and-predictions.png", "scoring-summary.png", "scheduled-scoring-run.png"))
