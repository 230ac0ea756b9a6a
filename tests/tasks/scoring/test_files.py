from tasks.scoring.files import OutputPaths, read_chunks, remove_stale_temporaries


def test_read_chunks_numbers_every_line_and_keeps_the_last_partial_chunk(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"a\nb\n\nc\r\nd")
    chunks = list(read_chunks(path, 2))
    assert [[n for n, _ in c] for c in chunks] == [[1, 2], [3, 4], [5]]
    assert chunks[1][1][1] == b"c\r\n" and chunks[2][0][1] == b"d"


def test_output_names_sit_beside_each_other(tmp_path):
    paths = OutputPaths.of(tmp_path / "in" / "part-7.jsonl", tmp_path / "out")
    assert paths.predictions.name == "part-7.pred.jsonl" and paths.manifest.name == "part-7.manifest.json"
    assert paths.rejects.parent == paths.lock.parent == tmp_path / "out"


def test_only_this_targets_temporaries_are_removed(tmp_path):
    target = tmp_path / "a.pred.jsonl"
    (tmp_path / ".a.pred.jsonl.1234abcd.tmp").write_text("half")
    (tmp_path / ".b.pred.jsonl.1234abcd.tmp").write_text("another file's")
    assert remove_stale_temporaries(target) == 1
    assert [p.name for p in tmp_path.iterdir()] == [".b.pred.jsonl.1234abcd.tmp"]
