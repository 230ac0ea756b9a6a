import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import parse_config
from tasks.core.config import TrainConfig

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


def test_only_some_data_files_is_refused():
    with pytest.raises(ValueError, match="all three"):
        parse_config(TrainConfig, ["--train_file", "a.jsonl"], "")


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
