"""TF-IDF on hashed n-grams: sublinear term frequency, smoothed idf, min_df=2, rows L2-normalised.

``TfidfVectorizer`` keeps a Python dict of every n-gram seen: millions of entries for character trigrams
of a large corpus, gigabytes before ``min_df`` prunes them. Hashing needs no vocabulary; document
frequencies are one array of the hashed width, and the weighting is the one ``TfidfVectorizer`` applies.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

MIN_DF = 2  # an n-gram seen in one training text only is noise to a linear model


class NgramTfidf:
    def __init__(self, hashing: HashingVectorizer):
        self.hashing = hashing
        self.columns: np.ndarray | None = None  # hashed columns kept (df >= MIN_DF), in order
        self.idf: np.ndarray | None = None

    def fit_transform(self, texts: list[str]) -> sparse.csr_matrix:
        counts = self.hashing.transform(texts)
        df = np.bincount(counts.indices, minlength=counts.shape[1])  # CSR: each column once per row
        # Only the kept columns go on: the solver's work grows with the width, and 2^20 mostly-empty
        # columns made a 500-row fit take 40 s.
        self.columns = np.flatnonzero(df >= MIN_DF)
        self.idf = (np.log((1 + counts.shape[0]) / (1 + df[self.columns])) + 1.0).astype(counts.dtype)  # smoothed
        return self._weigh(counts)

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        if self.idf is None:
            raise RuntimeError("fit_transform first")
        return self._weigh(self.hashing.transform(texts))

    def _weigh(self, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        kept = counts[:, self.columns].tocsr()
        kept.data = (1.0 + np.log(kept.data)) * self.idf[kept.indices]  # sublinear tf x idf
        return normalize(kept, copy=False)
