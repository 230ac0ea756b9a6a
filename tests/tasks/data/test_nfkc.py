"""tasks/data/nfkc.py: the batch NFKC equals Python's, text for text, and so do the keys made from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.data import nfkc
from tasks.data.quality import normalize
from tasks.data.row_store import text_keys

# Characters that change, combine, reorder or compose under NFKC, beside ones that do nothing.
TRICKY = [*"ＡＢａ１，。：！ 　…㈱½ﬁ㍻ＡＢ", "\u0301", "\u0327", "\u1100", "\u1161", "\u11a8", "\uac00", "\u0ccc",
          "\u0cd5", "\u0b47", "\u0b3e", "\uf900", "\u2126", "\u212b", "\u1e9b", "\u0344", "\U0001d400", "\U0001f600",
          "\ud800", " ", "\t", "\x85", "\u2028", "\u200b", "好", "e", "A", "o", "\u0308", "\u0323"]
tricky_texts = st.lists(st.sampled_from(TRICKY) | st.characters(codec=None, exclude_categories=()),
                        max_size=12).map("".join)


def test_every_code_point_alone_normalises_as_python_does():
    nfkc.warm_up()
    chars = [chr(cp) for cp in range(0x110000)]
    assert nfkc.normalize_all(chars) == [normalize(c) for c in chars]


@settings(max_examples=300, deadline=None)
@given(st.lists(tricky_texts, max_size=30))
def test_texts_of_any_characters_normalise_as_python_does(texts: list[str]):
    nfkc.warm_up()
    assert nfkc.normalize_all(texts) == [normalize(t) for t in texts]


def test_a_small_batch_before_the_table_exists_is_normalised_one_by_one_without_building_it():
    nfkc._table.cache_clear()
    assert nfkc.normalize_all(["ＯＫ ", "e\u0301"]) == ["OK", "\u00e9"]
    assert nfkc._table.cache_info().currsize == 0


def test_keys_are_those_of_the_normalised_texts_hashed_by_pandas():
    nfkc.warm_up()
    texts = ["好，很好…", " ＦＵＬＬ", "e\u0301", "한국어", "😀", "a" * 50] * 5_000  # above TABLE_PAYS_OFF
    expected = pd.util.hash_array(np.array([normalize(t) for t in texts], dtype=object), categorize=False)
    assert (text_keys(texts) == expected).all()
