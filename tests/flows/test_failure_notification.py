"""automations/notify-on-failure.yaml against a real Prefect server: created with the command the README gives, it
makes the server send a notification for a failed scoring run, and none for a completed one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

from flows.score_flow import score_flow
from tasks.core.config import ScoreConfig
from tasks.core.records import LabelSet
from tests.builders import learnable_rows, write_jsonl
from tests.pipeline import save_tiny_classifier

REPO = Path(__file__).resolve().parents[2]
AUTOMATION = REPO / "automations/notify-on-failure.yaml"
PLACEHOLDER = "<the id of your notification block>"
NAME = "bert-batch-pipeline: notify on failed or crashed runs"
pytestmark = pytest.mark.slow


class Receiver(ThreadingHTTPServer):
    """What a chat webhook would get: each POSTed body, on a free loopback port."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/notify"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


def test_a_failed_scoring_run_notifies_and_a_completed_one_does_not(prefect_server, tmp_path):
    receiver = Receiver()
    block = CustomWebhookNotificationBlock(name="test receiver", url=receiver.url,
                                           json_data={"subject": "{{subject}}", "body": "{{body}}"})
    block_id = block.save("notify-on-failure-test", overwrite=True)
    filled = tmp_path / "notify-on-failure.yaml"
    filled.write_text(AUTOMATION.read_text(encoding="utf-8").replace(PLACEHOLDER, str(block_id)), encoding="utf-8")
    env = os.environ | {"PREFECT_API_URL": prefect_server}
    created = subprocess.Popen([sys.executable, "-m", "prefect", "automation", "create", "--from-file", str(filled)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    model = save_tiny_classifier(tmp_path / "model", LabelSet(names=("0", "1"), kind="int"),
                                 [r["news"] for r in learnable_rows([0, 1], 100, seed=1)])
    write_jsonl(tmp_path / "bad/wrong-field.jsonl", [{"text": "好"}] * 2)  # every row rejected: the run fails
    write_jsonl(tmp_path / "good/part.jsonl", learnable_rows([0, 1], 5, seed=2))
    said = created.communicate(timeout=120)[0]
    assert created.returncode == 0 and "Created automation" in said, said

    clock = time.monotonic()
    try:
        # The real command line, as a user runs it; meanwhile a run that completes, in this process (torch is loaded).
        failing = subprocess.Popen([sys.executable, "flows/score_flow.py", "--inputs", str(tmp_path / "bad"),
                                    "--output_dir", str(tmp_path / "out"), "--model_dir", str(model)],
                                   cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        score_flow(ScoreConfig(inputs=str(tmp_path / "good"), output_dir=tmp_path / "out", model_dir=model))
        assert failing.wait(timeout=300) == 2, failing.stdout.read()[-2000:]
        with get_client(sync_client=True) as client:
            runs = {name: client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
                    for name in ("score bad", "score good")}
        assert {name: [r.state_type.value for r in found] for name, found in runs.items()} == {
            "score bad": ["FAILED"], "score good": ["COMPLETED"]}
        print(f"both runs ended after {time.monotonic() - clock:.0f} s", flush=True)
        deadline = time.monotonic() + 60
        while not receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"notified after {time.monotonic() - clock:.0f} s", flush=True)
        time.sleep(5)  # a wrong notification for the completed run would have come by now too
    finally:
        with get_client(sync_client=True) as client:  # later tests' failing runs are not for this receiver
            for automation in client.read_automations_by_name(NAME):
                client.delete_automation(automation.id)
        receiver.shutdown()

    print(f"notifications: {receiver.bodies}")
    [notification] = receiver.bodies
    failed = runs["score bad"][0]
    assert notification["subject"] == "score-jsonl run 'score bad' Failed", notification
    assert "Flow run 'score bad' of score-jsonl ended Failed" in notification["body"], notification
    assert "gave no predictions" in notification["body"], notification  # the run's own message
    assert str(failed.id) in notification["body"], notification  # in its link, or as the id without a UI
