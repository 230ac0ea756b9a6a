import hashlib

from tasks.core.config import TrainConfig
from tasks.core.files import read_json, sha256_file, write_json
from tasks.core.records import LabelSet, SplitData
from tasks.drift.profile import profile_model
from tasks.training.model import PROFILE_FILE, model_digest, saved_temperature
from tests.pipeline import save_tiny_classifier, validated

LABELS = LabelSet(names=("0", "1"), kind="int")


def split_of(name: str, path) -> SplitData:
    return validated(path, name, LABELS)


def test_the_profile_describes_the_dev_rows_and_the_digest_covers_it(tmp_path, binary_data):
    texts = [line for line in binary_data["train"].read_text(encoding="utf-8").splitlines()]
    model_dir = save_tiny_classifier(tmp_path / "model", LABELS, texts)
    files = sorted(model_dir.glob("*.safetensors"))
    before_profiles = hashlib.sha256("".join([sha256_file(f) for f in files]
                                             + [repr(saved_temperature(model_dir))]).encode()).hexdigest()
    assert model_digest(model_dir) == before_profiles  # a model without a profile keeps its digest
    dev, train = split_of("dev", binary_data["dev"]), split_of("train", binary_data["train"])
    profile_model.fn(model_dir, dev, train, LABELS, TrainConfig(precision="fp32"))
    profile = read_json(model_dir / PROFILE_FILE)
    stats = profile["stats"]
    assert stats["rows"] == dev.valid_rows == sum(stats["char_length"]) == sum(stats["predicted_label"])
    confusion = profile["dev_confusion"]  # [pred][true]
    assert [confusion[0][j] + confusion[1][j] for j in range(2)] == [dev.label_counts["0"], dev.label_counts["1"]]
    assert [sum(row) for row in confusion] == stats["predicted_label"]
    assert profile["train_label_counts"] == [train.label_counts["0"], train.label_counts["1"]]
    assert profile["labels"] == ["0", "1"] and profile["max_seq_length"] == 64
    with_profile = model_digest(model_dir)
    assert with_profile != before_profiles
    write_json(model_dir / PROFILE_FILE, profile | {"train_label_counts": [1, 1]})
    assert model_digest(model_dir) not in (with_profile, before_profiles)
