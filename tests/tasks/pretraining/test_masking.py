"""BERT's masking: 15 % of ordinary positions, 80/10/10, -100 elsewhere, whole words kept together."""

import numpy as np
import pytest

from tasks.pretraining.masking import IGNORE, Masker, mlm_collate
from tasks.tokens.tokenizer import train_wordpiece

SPECIAL = np.array([0, 1, 2, 3, 4])  # [PAD] [UNK] [CLS] [SEP] [MASK]


def masker(whole_words=True, p=0.15) -> Masker:
    return Masker(mask_id=4, special_ids=SPECIAL, ordinary_ids=np.arange(5, 1000), probability=p,
                  whole_words=whole_words)


def sequences(n: int, length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        ids = np.concatenate([[2], rng.integers(5, 1000, length), [1, 3]])  # [CLS] ... [UNK] [SEP]
        yield ids, np.ones(len(ids), dtype=bool)


def test_fifteen_percent_of_ordinary_positions_are_predicted_80_10_10_and_labels_are_ignored_elsewhere():
    m, rng = masker(), np.random.default_rng(1)
    chosen = masked = swapped = kept = ordinary = 0
    for ids, starts in sequences(400, 100):
        inputs, labels = m.mask(ids, starts, rng)
        special = np.isin(ids, SPECIAL)
        assert (labels[special] == IGNORE).all() and (inputs[special] == ids[special]).all()
        picked = labels != IGNORE
        assert (labels[picked] == ids[picked]).all()
        assert (inputs[~picked] == ids[~picked]).all()  # nothing outside the chosen positions changes
        assert not np.isin(inputs[picked & (inputs != 4)], SPECIAL).any()  # a random token is never special
        ordinary += int((~special).sum())
        chosen += int(picked.sum())
        masked += int((inputs[picked] == 4).sum())
        kept += int((inputs[picked] == ids[picked]).sum())
        swapped += int(((inputs[picked] != 4) & (inputs[picked] != ids[picked])).sum())
    assert chosen / ordinary == pytest.approx(0.15, abs=0.01)
    assert masked / chosen == pytest.approx(0.8, abs=0.02)
    assert swapped / chosen == pytest.approx(0.1, abs=0.015)  # a random token equal to the original counts as kept
    assert kept / chosen == pytest.approx(0.1, abs=0.015)


def test_whole_word_masking_predicts_every_token_of_a_chosen_word_or_none():
    m, rng = masker(p=0.3), np.random.default_rng(2)
    ids = np.array([2, *range(10, 40), 3])
    starts = np.zeros(len(ids), dtype=bool)
    starts[[0, 1, 4, 5, 9, 15, 16, 20, 27, 31]] = True  # words of 3, 1, 4, 6, 1, 4, 7 and 4 tokens
    word = np.cumsum(starts)
    seen_partial = False
    for _ in range(200):
        _, labels = m.mask(ids, starts, rng)
        for w in np.unique(word[1:-1]):
            picked = labels[word == w] != IGNORE
            seen_partial |= picked.any() and not picked.all()
    assert not seen_partial
    _, per_token = masker(whole_words=False, p=0.3).mask(ids, starts, np.random.default_rng(3))
    assert (per_token != IGNORE).sum() > 0


def test_the_same_row_seed_and_epoch_give_the_same_masks_and_another_epoch_others():
    from tasks.tokens.batching import from_token_lists

    data = from_token_lists([list(ids) for ids, _ in sequences(3, 50)])
    starts = np.ones(len(data.values), dtype=bool)
    first = masker().mask_row(data, starts, 1, seed=42, epoch=1)
    assert all((a == b).all() for a, b in zip(first, masker().mask_row(data, starts, 1, 42, 1), strict=True))
    assert not (first[1] == masker().mask_row(data, starts, 1, seed=42, epoch=2)[1]).all()


def test_collate_pads_inputs_with_pad_and_labels_with_ignore():
    masked = {0: (np.array([2, 4, 3]), np.array([IGNORE, 7, IGNORE])), 5: (np.array([2, 3]), np.array([IGNORE] * 2))}
    batch = mlm_collate(masked, np.array([0, 5]), pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 4, 3], [2, 3, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 7, IGNORE], [IGNORE, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_for_tokenizer_never_replaces_with_a_special_token():
    tokenizer = train_wordpiece(["今天天气很好", "价格便宜"], vocab_size=50)
    m = Masker.for_tokenizer(tokenizer, 0.15, True)
    assert set(m.special_ids.tolist()) == set(tokenizer.all_special_ids)
    assert not set(m.ordinary_ids.tolist()) & set(tokenizer.all_special_ids)
    assert m.mask_id == tokenizer.mask_token_id
