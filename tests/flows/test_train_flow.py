"""The whole training flow against a real Prefect server, on tiny learnable data with tiny models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from prefect.client.orchestration import get_client
from transformers import AutoModel, BertConfig

from flows.train_flow import train_flow
from tasks.core.config import ScratchModel, TrainConfig
from tasks.core.device import pick_device
from tasks.core.errors import DataError
from tasks.core.files import read_json
from tasks.tokens.batching import load_tokenized
from tasks.tokens.tokenizer import train_wordpiece
from tasks.training.inference import predict_logits, softmax
from tasks.training.model import load_classifier
from tests.builders import learnable_rows, write_jsonl
from tests.prefect_ui import run_view

REPO = Path(__file__).resolve().parents[2]
TINY = ScratchModel(hidden_size=64, num_hidden_layers=1, num_attention_heads=2, vocab_size=120)
RUN_FILES = ["config.json", "validation.json", "cache_keys.json", "epochs.json", "model/config.json",
             "model/model.safetensors", "model/classifier.safetensors", "model/tokenizer.json",
             "predictions/test.jsonl", "metrics.json", "promotion.json", "report.md", "baseline.json",
             "baseline_test_predictions.parquet", "comparison.json",
             "plots/training_curves.png", "plots/confusion_matrix.png", "plots/reliability.png", "run.log"]
pytestmark = pytest.mark.slow


def tiny_config(tmp_path, paths, **overrides) -> TrainConfig:
    return TrainConfig(**({
        "train_file": paths["train"], "dev_file": paths["dev"], "test_file": paths["test"], "scratch": TINY,
        "num_train_epochs": 4, "batch_size": 16, "learning_rate": 3e-3, "max_seq_length": 32,
        "data_dir": tmp_path / "data", "output_dir": tmp_path / "artifacts",
    } | overrides))


def test_flow_trains_reports_predicts_promotes_and_reuses_the_cache(prefect_server, binary_data, tmp_path):
    # --output_dir already holds a user's files (the seed article deleted everything under it): they must survive.
    user_files = {tmp_path / "artifacts" / name: name.encode() for name in ("notes.txt", "runs/mine/keep.bin",
                                                                            "checkpoints/other/last/meta.json")}
    for path, data in user_files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    report = Path(train_flow(tiny_config(tmp_path, binary_data)))
    run = report.parent
    for name in RUN_FILES:
        assert (run / name).is_file(), name
    metrics = read_json(run / "metrics.json")
    assert metrics["accuracy"] >= 0.9 and metrics["rows"] == 96
    assert metrics["calibration"]["nll_after"] <= metrics["calibration"]["nll_before"] + 0.05
    assert max(e["dev_accuracy"] for e in read_json(run / "epochs.json")) >= 0.9
    assert f"{metrics['accuracy']:.4f}" in report.read_text() and "Promoted" in report.read_text()
    baseline = read_json(run / "baseline.json")
    assert f"{baseline['test']['accuracy']:.4f}" in report.read_text() and baseline["test"]["rows"] == 96
    accuracy = metrics["intervals"]["accuracy"]
    assert accuracy["low"] <= metrics["accuracy"] == accuracy["point"] <= accuracy["high"]
    assert f"{metrics['accuracy']:.4f}** [{accuracy['low']:.4f}, {accuracy['high']:.4f}]" in report.read_text()
    comparison = read_json(run / "comparison.json")["test"]
    assert comparison["model"]["accuracy"] == accuracy and comparison["rows"] == 96
    assert comparison["baseline"]["accuracy"]["point"] == baseline["test"]["accuracy"]
    assert read_json(tmp_path / "artifacts/latest_model.json")["model_dir"] == str(run / "model")
    promotion = read_json(run / "promotion.json")
    assert [c.split(":")[0] for c in promotion["checks"][:2]] == ["PASS", "PASS"], promotion
    assert "![training curves](plots/training_curves.png)" in report.read_text()
    assert_prefect_ui_records(run, binary_data)

    # The saved model, loaded alone, reproduces the written predictions row by row, in input order.
    predictions = [json.loads(line) for line in (run / "predictions/test.jsonl").open(encoding="utf-8")]
    inputs = [json.loads(line) for line in binary_data["test"].open(encoding="utf-8")]
    assert [p["news"] for p in predictions] == [r["news"] for r in inputs]
    assert [p["label"] for p in predictions] == [r["label"] for r in inputs]
    model, tokenizer, labels = load_classifier(run / "model")
    cache = read_json(run / "cache_keys.json")["splits"]["test"]
    probs = softmax(predict_logits(model, load_tokenized(Path(cache["parquet"])), 8, tokenizer.pad_token_id,
                                   pick_device("cpu"), None))
    assert [labels.value_of(int(p.argmax())) for p in probs] == [p["pred_label"] for p in predictions]
    torch.testing.assert_close(torch.tensor(probs.max(1)), torch.tensor([p["pred_prob"] for p in predictions]))

    # A second run on the same inputs tokenizes nothing, and trains the same model (fixed seed, CPU).
    second = Path(train_flow(tiny_config(tmp_path, binary_data))).parent
    assert second != run
    assert all(s["cache_hit"] for s in read_json(second / "cache_keys.json")["splits"].values())
    assert "| hit |" in (second / "report.md").read_text()
    assert read_json(second / "metrics.json")["accuracy"] == metrics["accuracy"]

    async def flow_states():
        async with get_client() as client:
            return [r.state.type.value for r in await client.read_flow_runs()]

    import asyncio

    assert asyncio.run(flow_states()).count("COMPLETED") >= 2  # recorded by the real server
    assert {path: path.read_bytes() for path in user_files} == user_files


def assert_prefect_ui_records(run: Path, paths: dict[str, Path]) -> None:
    """What the UI shows: run names, data set and model tags, keyed artifacts holding the run's numbers."""
    view = run_view(run.name)
    assert view.flow_run.name == f"train scratch-bert-1x64 on {paths['train'].parent.name}"
    assert {f"dataset:{paths['train'].parent.name}", "model:scratch-bert-1x64"} <= set(view.flow_run.tags)
    assert {"fine-tune lr=0.003 bs=16", "tokenize train", "tokenize dev", "tokenize test",
            "predict test"} <= set(view.task_runs)
    epochs = read_json(run / "epochs.json")
    table = json.loads(view.keyed("training-epochs").data)
    assert [row["dev accuracy"] for row in table] == [f"{e['dev_accuracy']:.4f}" for e in epochs]
    assert [row["selected"] == "selected" for row in table] == [e["selected"] for e in epochs]
    metrics = read_json(run / "metrics.json")
    test_report = view.keyed("test-report").data
    assert f"**Accuracy {metrics['accuracy']:.4f}**" in test_report and "plots/reliability.png" in test_report
    assert str(run / "model") in view.keyed("model-and-predictions").data
    (progress,) = [a for a in view.artifacts if a.type == "progress"]
    assert progress.key == "training-progress" and float(progress.data) == 100.0
    assert "epoch 4 of 4" in progress.description


def test_test_only_run_scores_with_the_promoted_model(prefect_server, binary_data, tmp_path):
    first = Path(train_flow(tiny_config(tmp_path, binary_data))).parent
    # No --max_seq_length: the default (256) is more than this model's 64 positions; the saved length wins.
    report = Path(train_flow(tiny_config(tmp_path, binary_data, do_test=True, max_seq_length=None)))
    digest = read_json(first / "metrics.json")["model_digest"]
    assert read_json(report.parent / "metrics.json")["model_digest"] == digest
    assert not (report.parent / "model").exists() and not (report.parent / "promotion.json").exists()


def test_too_many_bad_rows_stop_the_flow_before_training_with_file_and_line(prefect_server, binary_data, tmp_path):
    rows = binary_data["train"].read_text(encoding="utf-8").splitlines()
    rows[2] = '{"news": "缺少标签"}'
    bad = tmp_path / "bad_train.jsonl"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    paths = binary_data | {"train": bad}
    with pytest.raises(DataError, match=r"bad_train.jsonl: 1 of 480 rows rejected.*line 3: missing label"):
        train_flow(tiny_config(tmp_path, paths, max_bad_row_fraction=0.0))
    assert not list((tmp_path / "artifacts/runs").glob("*/model"))
    quarantined = next((tmp_path / "artifacts/runs").glob("*/quarantine/train.jsonl"))
    assert json.loads(quarantined.read_text())["line"] == 3


def test_command_line_fine_tunes_a_local_checkpoint_with_three_string_labels(prefect_server, tmp_path):
    """`python flows/train_flow.py --model_checkpoint DIR` on a save_pretrained directory, as a user runs it."""
    labels = ["neg", "neu", "pos"]
    paths = {s: write_jsonl(tmp_path / f"{s}.jsonl", learnable_rows(labels, n, seed))
             for s, n, seed in (("train", 600, 1), ("dev", 96, 2), ("test", 96, 3))}
    tokenizer = train_wordpiece([r["news"] for r in learnable_rows(labels, 600, 1)], vocab_size=120)
    torch.manual_seed(0)
    AutoModel.from_config(BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=128)).save_pretrained(tmp_path / "ckpt")
    tokenizer.save_pretrained(tmp_path / "ckpt")
    argv = ["--train_file", paths["train"], "--dev_file", paths["dev"], "--test_file", paths["test"],
            "--model_checkpoint", tmp_path / "ckpt", "--num_train_epochs", "5", "--learning_rate", "3e-3",
            "--batch_size", "16", "--max_seq_length", "32", "--selection_metric", "macro_f1",
            "--data_dir", tmp_path / "data", "--output_dir", tmp_path / "artifacts"]
    env = os.environ | {"PREFECT_API_URL": prefect_server}
    out = subprocess.run([sys.executable, "flows/train_flow.py", *map(str, argv)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    report = Path(out.stdout.strip().splitlines()[-1].removeprefix("report: "))
    metrics = read_json(report.parent / "metrics.json")
    assert set(metrics["per_class"]) == set(labels) and metrics["accuracy"] >= 0.8
    preds = [json.loads(line)["pred_label"] for line in (report.parent / "predictions/test.jsonl").open()]
    assert set(preds) <= set(labels) and len(preds) == 96
    assert read_json(report.parent / "model/config.json")["id2label"] == {"0": "neg", "1": "neu", "2": "pos"}
    assert f"`{tmp_path / 'ckpt'}`" in report.read_text()


def test_test_only_run_refuses_a_model_trained_on_other_labels(prefect_server, binary_data, tmp_path):
    train_flow(tiny_config(tmp_path, binary_data))
    labels = ["neg", "neu", "pos"]
    others = {s: write_jsonl(tmp_path / f"{s}3.jsonl", learnable_rows(labels, 30, seed)) for s, seed in
              (("train", 1), ("dev", 2), ("test", 3))}
    with pytest.raises(DataError, match=r"predicts labels \['0', '1'\].*has \['neg', 'neu', 'pos'\]"):
        train_flow(tiny_config(tmp_path, others, do_test=True))


def test_leaked_test_rows_are_reported_apart_or_dropped(prefect_server, binary_data, tmp_path):
    train_rows = binary_data["train"].read_text(encoding="utf-8").splitlines()
    test_rows = binary_data["test"].read_text(encoding="utf-8").splitlines()
    leaky = tmp_path / "leaky_test.jsonl"
    leaky.write_text("\n".join(train_rows[:30] + test_rows) + "\n", encoding="utf-8")
    paths = binary_data | {"test": leaky}

    warned = Path(train_flow(tiny_config(tmp_path, paths))).parent
    metrics = read_json(warned / "metrics.json")
    assert metrics["rows"] == 126 and metrics["leakage_free"]["rows"] == 96
    assert "96 test rows whose text does not occur in train" in (warned / "report.md").read_text()
    fresh = metrics["leakage_free"]["intervals"]["macro_f1"]
    assert fresh["point"] == pytest.approx(metrics["leakage_free"]["macro"]["f1"])
    assert read_json(warned / "comparison.json")["leakage_free"]["model"]["macro_f1"] == fresh

    dropped = Path(train_flow(tiny_config(tmp_path, paths, leakage="drop"))).parent
    metrics = read_json(dropped / "metrics.json")
    assert metrics["rows"] == 96 and "leakage_free" not in metrics
    assert "leakage_free" not in read_json(dropped / "comparison.json")
    assert sum(1 for _ in (dropped / "predictions/test.jsonl").open()) == 96

    with pytest.raises(DataError, match=r"leaky_test.jsonl: 30 rows \(first at line 1\)"):
        train_flow(tiny_config(tmp_path, paths, leakage="fail"))


def test_head_tail_training_is_saved_with_the_model_and_windows_are_reported_apart(prefect_server, binary_data,
                                                                                   tmp_path):
    """At 12 tokens most texts are long: the model keeps head_tail (3 head tokens of 10, the paper's share), test
    predictions use windows, and the report gives the texts that fit and the windowed ones apart."""
    report = Path(train_flow(tiny_config(tmp_path, binary_data, max_seq_length=12, truncation="head_tail",
                                         long_texts="window", no_baseline=True)))
    run = report.parent
    saved = read_json(run / "model/config.json")
    assert (saved["classifier_truncation"], saved["classifier_head_tokens"]) == ("head_tail", 3)
    tokenized = read_json(run / "cache_keys.json")["splits"]
    assert tokenized["test"]["truncation"]["mode"] == "head_tail" and tokenized["test"]["windows"]
    assert tokenized["train"]["windows"] is None  # windows are for predictions, never trained on
    slices = read_json(run / "metrics.json")["length_slices"]
    assert slices["long_texts"] == "windowed" and slices["long"]["rows"] == tokenized["test"]["truncated"] > 0
    assert slices["fit"]["rows"] + slices["long"]["rows"] == 96
    assert "scored as several windows" in report.read_text()
