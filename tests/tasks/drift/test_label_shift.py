import random

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from tasks.drift.compare import psi
from tasks.drift.label_shift import estimate_label_mix, solve_label_mix
from tests.drift_data import snownlp_pairs


def test_a_known_label_mix_is_covered_where_the_raw_predicted_mix_is_biased():
    # A real classifier with real errors (~75 % accuracy: character TF-IDF on 1,000 reviews), its confusion
    # counts on 2,000 labelled dev rows, and batches of held-out rows drawn 80 % negative.
    pairs = snownlp_pairs()
    train, dev, held_out = pairs[:1000], pairs[1000:3000], pairs[3000:]
    vectorizer = TfidfVectorizer(analyzer="char")
    classifier = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform([t for t, _ in train]),
                                                       [label for _, label in train])

    def predict(texts):
        return classifier.predict(vectorizer.transform(texts))

    confusion = np.zeros((2, 2), dtype=np.int64)
    np.add.at(confusion, (predict([t for t, _ in dev]), [label for _, label in dev]), 1)
    negative = [t for t, label in held_out if label == 0]
    positive = [t for t, label in held_out if label == 1]
    covered = 0
    for seed in range(10):
        rng = random.Random(seed)
        batch = rng.sample(negative, 800) + rng.sample(positive, 200)
        counts = np.bincount(predict(batch), minlength=2)
        mix = estimate_label_mix(confusion, counts, seed=seed)
        raw = counts[0] / counts.sum()
        assert raw < mix["low"][0] and raw < 0.72  # the raw mix is biased towards 50/50, outside the interval
        covered += mix["low"][0] <= 0.8 <= mix["high"][0]
        assert abs(sum(mix["estimate"]) - 1) < 1e-9 and min(mix["estimate"]) >= 0
    assert covered >= 9  # a 95 % interval


def test_the_estimate_is_clipped_to_valid_proportions():
    confusion = np.array([[90, 20], [10, 80]])  # P(pred | true) columns: (0.9, 0.1), (0.2, 0.8)
    assert np.allclose(solve_label_mix(confusion / confusion.sum(axis=0), np.array([0.9, 0.1])), [1.0, 0.0])
    assert np.allclose(solve_label_mix(confusion / confusion.sum(axis=0), np.array([0.55, 0.45])), [0.5, 0.5])


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert psi([10, 20, 30], [20, 40, 60]) == 0.0
    small, large = psi([50, 50], [55, 45]), psi([50, 50], [90, 10])
    assert 0 < small < 0.1 < 0.25 < large
    assert np.isfinite(psi([100, 0], [50, 50]))  # an empty reference bin is raised to the epsilon, not infinite
