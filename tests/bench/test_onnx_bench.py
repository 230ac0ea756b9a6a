"""The ONNX Runtime benchmark stays runnable: a tiny saved classifier, a dozen texts (its numbers are not checked)."""

import subprocess
import sys
from pathlib import Path

import pytest

from tasks.core.config import ScratchModel
from tasks.core.records import LabelSet
from tasks.tokens.tokenizer import train_wordpiece
from tasks.training.model import new_classifier, save_classifier, scratch_encoder

pytest.importorskip("onnxruntime")  # an optional trial, not a dependency of the project
pytest.importorskip("onnxscript")  # torch.onnx.export's dynamo exporter needs it

REPO = Path(__file__).resolve().parents[2]
TEXTS = REPO.parent / "shared" / "data" / "chnsenticorp"
pytestmark = pytest.mark.skipif(not TEXTS.is_dir(), reason="the benchmark scores ../shared's ChnSentiCorp test")


def test_onnx_benchmark_times_every_contestant_and_gives_a_verdict(tmp_path):
    tokenizer = train_wordpiece(["这家酒店很好", "房间太小了, 不推荐", "服务一般 hello"], vocab_size=100)
    labels = LabelSet(names=("0", "1"), kind="int")
    shape = ScratchModel(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=100)
    model = new_classifier(scratch_encoder(shape, tokenizer, 64), labels).eval()
    model_dir = save_classifier(model, tokenizer, labels, tmp_path / "model", max_seq_length=64)
    out = subprocess.run([sys.executable, "-m", "bench.onnx_bench", "--model_dir", str(model_dir), "--rows", "12",
                          "--repeat", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    for name in ("torch fp32", "torch bf16 autocast", "ORT fp32", "ORT dynamic int8", "verdict: "):
        assert name in out.stdout
