import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import OptionError, config_from, config_parser, parse_config
from tasks.core.config import ScoreConfig, TrainConfig

REPO = Path(__file__).resolve().parents[2]
SEED_FLAGS = ["--train_file", "--dev_file", "--test_file", "--model_checkpoint", "--output_dir", "--max_seq_length",
              "--batch_size", "--learning_rate", "--num_train_epochs", "--warmup_proportion", "--weight_decay",
              "--adam_beta1", "--adam_beta2", "--adam_epsilon", "--seed", "--do_train", "--do_test", "--do_predict",
              "--device"]


def test_no_arguments_gives_the_defaults_and_runs_every_step():
    cfg = parse_config(TrainConfig, [], "")
    assert cfg == TrainConfig()
    assert cfg.steps == (True, True, True)
    resolved = cfg.resolved()
    assert resolved.from_scratch and resolved.learning_rate == [1e-3] and resolved.max_seq_length == 256


def test_the_seed_articles_command_line_is_accepted_as_is(tmp_path):
    argv = ["--output_dir=./Bert_results/", "--model_checkpoint=./ckpts/bert-base-chinese",
            "--train_file=./data/train_set.jsonl", "--dev_file=./data/dev_set.jsonl",
            "--test_file=./data/test_set.jsonl", "--max_seq_length=512", "--batch_size=8", "--do_train", "--do_test"]
    cfg = parse_config(TrainConfig, argv, "").resolved()
    assert cfg.steps == (True, True, False)
    assert cfg.model_checkpoint == "./ckpts/bert-base-chinese"
    assert (cfg.learning_rate, cfg.num_train_epochs, cfg.adam_beta2, cfg.warmup_proportion) == ([1e-5], 8, 0.98, 0.1)
    assert cfg.train_file == Path("./data/train_set.jsonl")


def test_nested_scratch_options_and_typed_values():
    cfg = parse_config(TrainConfig, ["--scratch_hidden_size", "64", "--selection_metric", "macro_f1",
                                     "--promote_if_better", "--learning_rate", "2e-4"], "")
    assert cfg.scratch.hidden_size == 64 and cfg.scratch.num_hidden_layers == 2
    assert cfg.selection_metric == "macro_f1" and cfg.promote_if_better and cfg.learning_rate == [2e-4]


@pytest.mark.parametrize("argv", [["--selection_metric", "loss"], ["--batch_size", "many"], ["--no_such_flag"]])
def test_bad_options_exit_with_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(TrainConfig, argv, "")
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_only_some_data_files_is_a_usage_error_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(TrainConfig, ["--train_file", "a.jsonl"], "")
    assert exc.value.code == 2
    assert "error: give all three of --train_file" in capsys.readouterr().err


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, "flows/train_flow.py", "--help"], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    ours = ["--text_field", "--label_field", "--selection_metric", "--scratch_hidden_size", "--promote_min_accuracy"]
    for flag in [*SEED_FLAGS, *ours]:
        assert flag in out.stdout, flag


def test_comma_lists_are_a_sweep_of_every_combination():
    cfg = parse_config(TrainConfig, ["--learning_rate", "2e-5,3e-5", "--batch_size", "8,16"], "").resolved()
    assert [(s.learning_rate, s.batch_size) for s in cfg.settings()] == [(2e-5, 8), (2e-5, 16), (3e-5, 8), (3e-5, 16)]
    assert [s.learning_rate for s in TrainConfig().resolved().settings()] == [1e-3]


@pytest.mark.parametrize("argv", [["--learning_rate", "2e-5,-1"], ["--batch_size", "8,0"], ["--learning_rate", ","]])
def test_bad_sweep_values_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(TrainConfig, argv, "")
    assert exc.value.code == 2 and argv[0] in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scratch_hidden_size", "0"], "--scratch_hidden_size: Input should be greater than 0"),
    (["--pretrain_epochs", "0"], "--pretrain_epochs: Input should be greater than 0"),
    (["--device", "gpu"], "--device: unknown device 'gpu'"),
])
def test_a_nested_or_checked_option_is_named_in_the_usage_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(TrainConfig, argv, "")
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--chunk_rows", "0"], "--chunk_rows: Input should be greater than 0"),
    (["--max_batch_tokens", "0"], "--max_batch_tokens: Input should be greater than 0"),
    (["--text_field", ""], "--text_field: String should have at least 1 character"),
    (["--drift_psi_watch", "0.5", "--drift_psi_alert", "0.2"], "--drift_psi_alert 0.2 is below --drift_psi_watch 0.5"),
    (["--dask_address", "tcp://h:8786", "--dask_workers", "2"], "--dask_address (a running cluster) or"),
])
def test_config_from_without_a_parser_raises_one_clean_option_error(argv, message):
    given = vars(config_parser(ScoreConfig, "").parse_args(argv))
    with pytest.raises(OptionError) as exc:
        config_from(ScoreConfig, given)
    assert message in str(exc.value) and "\n" not in str(exc.value) and "pydantic" not in str(exc.value)


def absent_cuda() -> str:
    """A CUDA device this machine lacks: ``cuda`` without CUDA, else one past the last."""
    import torch

    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--chunk_rows", "0", "--chunk_rows: Input should be greater than 0"),
    ("--device", None, "--device cuda"),
])
def test_a_bad_scoring_option_exits_2_with_one_error_line_before_any_work(tmp_path, option, value, message):
    value = value or absent_cuda()
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)  # a bad option must stop before any server is needed
    argv = [option, value, "--inputs", str(tmp_path / "in"), "--output_dir", str(tmp_path / "out"),
            "--artifacts_dir", str(tmp_path / "artifacts")]
    out = subprocess.run([sys.executable, "flows/score_flow.py", *argv], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=300)
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert out.returncode == 2, out.stderr
    # run_command's "error: ..." line, or argparse's "usage: ..." lines and "score_flow.py: error: ...".
    assert "Traceback" not in out.stderr and len(errors) == 1, out.stderr
    assert errors[0].removeprefix("score_flow.py: ").startswith(f"error: {message}"), out.stderr
    if option == "--device":
        assert "is not available on this machine" in errors[0] or "CUDA device(s)" in errors[0]
    assert not (tmp_path / "out").exists() and "temporary server" not in out.stderr
