"""Pre-training as a flow: resume after SIGKILL, chained before fine-tuning, its output as --model_checkpoint."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.pretrain_flow import pretrain_flow
from flows.train_flow import train_flow
from tasks.core.config import MlmSettings
from tasks.core.files import read_json
from tests.flows.test_train_flow import tiny_config
from tests.kill import kill_tree
from tests.prefect_ui import run_view
from tests.tasks.pretraining.test_pretrain import learnable_corpus, tiny_pretrain_config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def command(corpus: Path, out: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "flows/pretrain_flow.py", "--corpus", str(corpus), "--scratch_hidden_size", "32",
            "--scratch_num_hidden_layers", "1", "--scratch_num_attention_heads", "2", "--scratch_vocab_size", "200",
            "--epochs", "3", "--batch_size", "16", "--learning_rate", "3e-3", "--max_seq_length", "32",
            "--device", "cpu", "--output_dir", str(out), "--data_dir", str(data_dir)]


HOLD_AFTER_EPOCH_ONE = """
import time
import tasks.pretraining.loop as loop
save_state = loop.save_state
def save_then_hold(*args, **kwargs):
    save_state(*args, **kwargs)
    time.sleep(600)  # the epoch-1 checkpoint is on disk: wait here for the SIGKILL
loop.save_state = save_then_hold
"""


def epochs_saved(out: Path) -> int:
    metas = list(out.glob("pretrained/*/last/meta.json"))
    return read_json(metas[0])["epoch"] if metas else 0


def test_sigkill_during_epoch_two_then_rerun_resumes_and_ends_with_the_uninterrupted_weights(prefect_server, tmp_path):
    corpus = learnable_corpus(tmp_path / "corpus.txt", n=1500)
    env = os.environ | {"PREFECT_API_URL": prefect_server, "PREFECT_LOGGING_LEVEL": "INFO"}
    killed = tmp_path / "killed"
    # The child holds still right after its epoch-1 checkpoint and is killed there: on a busy machine a tiny
    # model's epoch 2 can end before a polling test notices epoch 1, so the kill must not race it.
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "sitecustomize.py").write_text(HOLD_AFTER_EPOCH_ONE, encoding="utf-8")
    held = env | {"PYTHONPATH": os.pathsep.join(filter(None, [str(hold), str(REPO), env.get("PYTHONPATH")]))}
    proc = subprocess.Popen(command(corpus, killed, tmp_path / "data"), cwd=REPO, env=held,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while epochs_saved(killed) < 1:
            assert proc.poll() is None and time.monotonic() < deadline, "pre-training ended before epoch 2 was killed"
            time.sleep(0.05)
    finally:
        kill_tree(proc)
    assert epochs_saved(killed) == 1, "the kill must land during epoch 2"
    assert not list(killed.glob("pretrained/*/model"))

    rerun = subprocess.run(command(corpus, killed, tmp_path / "data"), cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "after epoch 1 of 3" in rerun.stderr + rerun.stdout
    # The uninterrupted run in a fresh interpreter too: in this one, earlier tests may have changed torch's
    # thread count, and with it the order of float sums (an in-process twin differed in a full-suite run).
    clean = subprocess.run(command(corpus, tmp_path / "clean", tmp_path / "data"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr[-3000:]

    (resumed_dir,), (clean_dir,) = killed.glob("pretrained/*"), (tmp_path / "clean").glob("pretrained/*")
    resumed, uninterrupted = read_json(resumed_dir / "result.json"), read_json(clean_dir / "result.json")
    assert [e["weights_digest"] for e in resumed["epochs"]] == [e["weights_digest"] for e in uninterrupted["epochs"]]
    weights = "model/model.safetensors"
    assert (resumed_dir / weights).read_bytes() == (clean_dir / weights).read_bytes()
    # (A cache hit on the same command is tests/tasks/pretraining/test_pretrain.py's.)


def test_train_flow_chains_pre_training_and_reports_it(prefect_server, binary_data, tmp_path):
    corpus = learnable_corpus(tmp_path / "corpus.txt")
    pretrain = MlmSettings(corpus=str(corpus), epochs=2, batch_size=16, learning_rate=3e-3, max_seq_length=32)
    cfg = tiny_config(tmp_path, binary_data, pretrain=pretrain)
    run = Path(train_flow(cfg)).parent
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "## Pre-training" in report and "pre-trained here by masked-language modelling" in report
    assert f"`{corpus}`" in report and "2 epochs" in report
    assert read_json(run / "metrics.json")["accuracy"] >= 0.9
    (pretrained,) = (tmp_path / "artifacts" / "pretrained").glob("*")
    assert read_json(run / "config.json")["config"]["pretrain"]["corpus"] == str(corpus)
    view = run_view(run.name)
    names = {name.rsplit("-", 1)[0] if "pre-training" in name else name for name in view.task_runs}
    assert {"pre-train (masked LM, 2 epochs)", "tokenize pre-training corpus", "fine-tune lr=0.003 bs=16"} <= names
    table = json.loads(view.keyed("pretraining-epochs").data)
    assert [row["held-out perplexity"] for row in table] == [
        f"{e['heldout_perplexity']:.2f}" for e in read_json(pretrained / "result.json")["epochs"]]

    second = Path(train_flow(cfg)).parent  # the same corpus and settings: the encoder is reused, not retrained
    assert "reused it from the cache" in (second / "report.md").read_text(encoding="utf-8")
    assert read_json(second / "metrics.json")["accuracy"] == read_json(run / "metrics.json")["accuracy"]


def test_the_pretrain_flows_output_fine_tunes_as_model_checkpoint(prefect_server, binary_data, tmp_path):
    # In-domain unlabelled text: the training file itself (its labels are ignored), as JSONL.
    model_dir = pretrain_flow(tiny_pretrain_config(tmp_path, binary_data["train"], epochs=1))
    run = Path(train_flow(tiny_config(tmp_path, binary_data, model_checkpoint=model_dir, learning_rate=3e-3,
                                      batch_size=16, num_train_epochs=4, max_seq_length=32))).parent
    assert read_json(run / "metrics.json")["accuracy"] >= 0.9
    assert f"`{model_dir}`, fine-tuned" in (run / "report.md").read_text(encoding="utf-8")
