import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.tokens.batching import collate, from_token_lists, length_grouped_batches, load_tokenized, sorted_batches


def write_split(path, ids):
    arr = pa.array(ids, type=pa.list_(pa.int32()))
    pq.write_table(pa.table({
        "row": pa.array(range(len(ids)), pa.int32()), "line": pa.array([i + 1 for i in range(len(ids))], pa.int32()),
        "input_ids": arr, "length": pa.array([len(x) for x in ids], pa.int32()),
        "label_id": pa.array([i % 2 for i in range(len(ids))], pa.int32()),
    }), path)
    return path


def test_load_tokenized_keeps_every_row_and_its_tokens(tmp_path):
    ids = [[2, 5, 3], [2, 7, 8, 9, 3], [2, 3]]
    data = load_tokenized(write_split(tmp_path / "s.parquet", ids))
    assert len(data) == 3
    for i, row in enumerate(ids):
        assert data.values[data.offsets[i] : data.offsets[i + 1]].tolist() == row
    assert data.lengths.tolist() == [3, 5, 2]
    assert data.labels.tolist() == [0, 1, 0]
    assert data.lines.tolist() == [1, 2, 3]


def test_length_grouped_batches_cover_each_row_once_and_pad_less_than_random():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 300, size=5000)
    batches = length_grouped_batches(lengths, 16, np.random.default_rng(1))
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(5000))

    def padded(bs):
        return sum(len(b) * lengths[b].max() for b in bs)

    shuffled = rng.permutation(5000)
    random_batches = [shuffled[i : i + 16] for i in range(0, 5000, 16)]
    assert padded(batches) < 0.6 * padded(random_batches)


def test_length_grouped_batches_are_reproducible_and_vary_with_the_seed():
    lengths = np.arange(1, 1001)
    a = length_grouped_batches(lengths, 8, np.random.default_rng([42, 1]))
    b = length_grouped_batches(lengths, 8, np.random.default_rng([42, 1]))
    c = length_grouped_batches(lengths, 8, np.random.default_rng([42, 2]))
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_sorted_batches_go_longest_first():
    lengths = np.array([5, 1, 9, 3, 7])
    batches = sorted_batches(lengths, 2)
    assert [b.tolist() for b in batches] == [[2, 4], [0, 3], [1]]


def test_collate_pads_to_the_longest_row_in_the_batch(tmp_path):
    data = load_tokenized(write_split(tmp_path / "s.parquet", [[2, 5, 3], [2, 7, 8, 9, 3], [2, 3]]))
    batch = collate(data, np.array([2, 0]), pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 3, 0], [2, 5, 3]]
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 1, 1]]
    aligned = collate(data, np.array([1, 0]), pad_id=0, multiple=8)  # CUDA: widths in multiples of 8
    assert aligned["input_ids"].tolist() == [[2, 7, 8, 9, 3, 0, 0, 0], [2, 5, 3, 0, 0, 0, 0, 0]]
    assert aligned["attention_mask"].sum(1).tolist() == [5, 3]


def test_token_budget_cuts_long_batches_short_and_short_batches_long():
    lengths = np.array([500, 480, 20, 20, 20, 20, 20, 20, 10, 10])
    batches = sorted_batches(lengths, batch_size=4, max_tokens=1000)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]
    assert all(len(b) * lengths[b].max() <= 1000 for b in batches)
    assert [len(b) for b in sorted_batches(np.array([2000, 5]), 8, max_tokens=100)] == [1, 1]  # never empty


def test_from_token_lists_matches_the_parquet_layout():
    data = from_token_lists([[2, 5, 3], [2, 3], [2, 7, 7, 3]])
    assert data.offsets.tolist() == [0, 3, 5, 9]
    assert data.values.tolist() == [2, 5, 3, 2, 3, 2, 7, 7, 3]
    assert data.lengths.tolist() == [3, 2, 4]
