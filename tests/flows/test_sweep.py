"""Dev-set selection over a learning-rate sweep, early stopping, and the out-of-memory retry, in the real flow."""

from pathlib import Path

import pytest
import torch
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.train_flow import train_flow
from tasks.core.files import read_json
from tasks.training.early_stop import stop_decision
from tests.builders import learnable_rows, write_jsonl, write_learnable
from tests.flows.test_train_flow import tiny_config

pytestmark = pytest.mark.slow


def task_run_names(flow_run_id) -> list[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return sorted(r.name for r in runs)


def test_a_sweep_trains_each_setting_as_its_own_run_and_only_the_winner_meets_test(prefect_server, binary_data,
                                                                                        tmp_path):
    cfg = tiny_config(tmp_path, binary_data, learning_rate=[1e-6, 3e-3], num_train_epochs=3, no_baseline=True)
    state = train_flow(cfg, return_state=True)
    run = Path(state.result()).parent
    names = task_run_names(state.state_details.flow_run_id)
    assert [n for n in names if n.startswith("fine-tune")] == ["fine-tune lr=0.003 bs=16", "fine-tune lr=1e-06 bs=16"]
    assert [n for n in names if n.startswith("predict")] == ["predict test"]  # test is evaluated once

    sweep = read_json(run / "sweep.json")
    assert [(s["setting"]["learning_rate"], s["winner"]) for s in sweep] == [(1e-6, False), (3e-3, True)]
    assert sweep[1]["best_dev_metric"] > sweep[0]["best_dev_metric"]
    assert [e["dev_accuracy"] for e in read_json(run / "epochs.json") if e["selected"]] == [sweep[1]["best_dev_metric"]]
    report = (run / "report.md").read_text()
    assert "Selected epoch" in report and "with lr=0.003 bs=16" in report and "Sweep: 2 settings" in report


def test_early_stopping_ends_training_where_the_dev_curve_says(prefect_server, binary_data, tmp_path):
    # Dev labels opposite to the learnable rule: dev accuracy falls as training succeeds.
    flipped = [{"news": r["news"], "label": 1 - r["label"]} for r in learnable_rows([0, 1], 96, seed=2)]
    paths = binary_data | {"dev": write_jsonl(tmp_path / "flipped_dev.jsonl", flipped)}
    cfg = tiny_config(tmp_path, paths, num_train_epochs=8, early_stopping_patience=2, no_baseline=True)
    run = Path(train_flow(cfg)).parent
    scores = [e["dev_accuracy"] for e in read_json(run / "epochs.json")]
    assert len(scores) < 8
    assert stop_decision(scores, 2) is not None and stop_decision(scores[:-1], 2) is None
    assert f"Early stopping stopped after epoch {len(scores)}" in (run / "report.md").read_text()


def test_out_of_memory_is_retried_with_half_the_micro_batch_and_the_same_global_batch(prefect_server, tmp_path,
                                                                                      monkeypatch):
    import tasks.training.loop as loop

    real = loop.optimizer_step
    seen = []

    def small_memory(model, data, rows, slices, *args, **kwargs):
        seen.append(max(len(s) for s in slices))
        if seen[-1] > 8:  # a device that fits 8 texts a micro-batch, not 16
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(model, data, rows, slices, *args, **kwargs)

    monkeypatch.setattr(loop, "optimizer_step", small_memory)
    monkeypatch.setattr("flows.train_flow.train_model.retry_delay_seconds", 0)
    paths = write_learnable(tmp_path / "d", [0, 1])
    run = Path(train_flow(tiny_config(tmp_path, paths, num_train_epochs=2, no_baseline=True))).parent
    assert seen[0] == 16 and set(seen[1:]) == {8}  # one failed step, then every step in halves
    marker = next((tmp_path / "artifacts/checkpoints").glob("*/micro_split.json"))
    assert read_json(marker)["micro_split"] == 2
    assert read_json(run / "metrics.json")["accuracy"] >= 0.9


def test_on_a_dask_cluster_the_settings_train_concurrently_and_select_alike(prefect_server, binary_data, tmp_path):
    from distributed import LocalCluster

    sweep = {"learning_rate": [1e-6, 3e-3], "num_train_epochs": 2, "no_baseline": True, "do_train": True}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cfg = tiny_config(tmp_path / "dask", binary_data, dask_address=cluster.scheduler_address, **sweep)
        on_dask = Path(train_flow(cfg)).parent
    in_turn = Path(train_flow(tiny_config(tmp_path / "local", binary_data, **sweep))).parent
    # Same settings, same seed: each worker trains what the sequential run trains. Timings differ, and so do
    # the last bits of the weights: a one-thread worker sums in another order than two threads here.
    def untimed(path):
        skip = {"seconds", "texts_per_second", "weights_digest", "train_loss"}
        return [{k: v for k, v in row.items() if k not in skip} for row in read_json(path)]

    assert untimed(on_dask / "sweep.json") == untimed(in_turn / "sweep.json")
    assert untimed(on_dask / "epochs.json") == untimed(in_turn / "epochs.json")
    losses = [[e["train_loss"] for e in read_json(run / "epochs.json")] for run in (on_dask, in_turn)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    assert [s["winner"] for s in read_json(on_dask / "sweep.json")] == [False, True]
