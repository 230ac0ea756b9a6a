import numpy as np

from tasks.data.quality import SplitKeys, count_by_reason, dataset_quality, normalize, percentiles, split_quality
from tasks.data.row_store import text_keys


def rows(*items: tuple[int, str, int]) -> SplitKeys:
    """What validation reads back from a rows file: keys of the texts, lines, label codes, lengths."""
    lines, texts, labels = zip(*items, strict=True) if items else ((), (), ())
    return SplitKeys(keys=text_keys(list(texts)), lines=np.array(lines), labels=np.array(labels),
                     chars=np.array([len(t) for t in texts]))


def test_normalize_folds_full_width_forms_and_trims():
    assert normalize(" ＡＢＣ１２３，好 \t") == "ABC123,好"
    assert normalize("ﬁ") == "fi"


def test_duplicates_count_rows_after_their_first_occurrence_and_name_both_lines():
    q = split_quality(rows((1, "好", 1), (2, "差", 0), (3, "好 ", 1), (5, "好", 1)), None)
    assert q.duplicate_rows == 2
    assert q.duplicate_examples == ((3, 1), (5, 1))
    assert q.conflicting_texts == 0 and q.leaked_lines == ()


def test_the_same_text_with_two_labels_is_a_conflict():
    q = split_quality(rows((1, "一般", 1), (2, "一般", 0), (3, "好", 1)), None)
    assert q.conflicting_texts == 1 and q.conflict_examples == ((1, 2),)


def test_leakage_is_measured_against_train_and_sharing_between_every_pair():
    data = {
        "train": rows((1, "好", 1), (2, "差", 0)),
        "dev": rows((1, "ＯＫ", 1), (2, "好", 1)),
        "test": rows((1, "差", 0), (2, "OK", 1), (3, "新的", 0)),
    }
    quality = dataset_quality(data)
    assert quality["train"].leaked_lines == ()
    assert quality["dev"].leaked_lines == (2,)
    assert quality["test"].leaked_lines == (1,)
    assert quality["test"].shared_with == {"train": 1, "dev": 1}  # "OK" is full-width "ＯＫ" in dev


def test_conflict_examples_follow_first_occurrence_and_list_every_line():
    q = split_quality(rows((1, "b", 1), (2, "a", 0), (3, "a", 1), (4, "b", 0), (5, "a", 0), (6, "c", 1)), None)
    assert q.conflicting_texts == 2 and q.conflict_examples == ((1, 4), (2, 3, 5))
    assert q.duplicate_rows == 3 and q.duplicate_examples == ((3, 2), (4, 1), (5, 2))
    assert q.length_chars == {"p50": 1, "p90": 1, "p99": 1, "max": 1}


def test_an_empty_split_has_no_findings():
    q = split_quality(rows(), np.zeros(0, dtype=np.uint64))
    assert (q.duplicate_rows, q.conflicting_texts, q.leaked_lines, q.length_chars) == (0, 0, (), {})


def test_percentiles_and_reasons():
    assert percentiles(list(range(1, 101))) == {"p50": 51, "p90": 91, "p99": 100, "max": 100}
    assert percentiles([]) == {}
    reasons = ["not valid JSON: Expecting value (column 1)", "not valid JSON: Extra data (column 9)",
               "missing text field 'news'"]
    assert count_by_reason(reasons) == {"not valid JSON": 2, "missing text field 'news'": 1}
