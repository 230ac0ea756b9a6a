"""The Rust tokenizer behind a fast ``transformers`` tokenizer, called directly.

``tokenizer(texts, ...)`` costs about twice what its own backend does for short texts: it copies every
encoding's fields into Python lists and a ``BatchEncoding``, most of which the pipeline never reads. Here the
backend is set up as that call would set it (truncation, no padding, special tokens) and its ``Encoding``
objects come back as they are. ``offsets=False`` takes ``encode_batch_fast``, which skips character offsets
(and so word positions): the ids, and the overflow that tells a text was cut, are the same.

The backend is the tokenizer's own, its settings shared, exactly as ``transformers`` shares them: one
tokenizer object should not be used by two threads at once with different limits (the pipeline gives each
task its own).
"""

from __future__ import annotations

from tokenizers import Encoding


def set_up(tokenizer, max_length: int | None):
    """The backend with ``transformers``' truncation for ``max_length`` (None: none) and no padding."""
    backend = tokenizer.backend_tokenizer
    if max_length is None:
        if backend.truncation is not None:
            backend.no_truncation()
    else:
        target = {"max_length": max_length, "stride": 0, "strategy": "longest_first",
                  "direction": tokenizer.truncation_side}
        current = backend.truncation
        if current is None or {k: current.get(k) for k in target} != target:
            backend.enable_truncation(**target)
    if backend.padding is not None:
        backend.no_padding()
    split_special = bool(getattr(tokenizer, "split_special_tokens", False))
    if backend.encode_special_tokens != split_special:
        backend.encode_special_tokens = split_special
    return backend


def encode(texts: list[str], tokenizer, max_length: int | None, special_tokens: bool = True,
           offsets: bool = True) -> list[Encoding]:
    """One ``Encoding`` per text, cut to ``max_length`` with the rest in its ``overflowing``; ``offsets``: with
    character offsets and word ids (slower)."""
    if not texts:
        return []
    backend = set_up(tokenizer, max_length)
    run = backend.encode_batch if offsets else backend.encode_batch_fast
    return run(texts, add_special_tokens=special_tokens)


def ids_and_cuts(encodings: list[Encoding]) -> tuple[list[list[int]], list[bool]]:
    """Each encoding's ids, and whether its text had more tokens than the limit."""
    return [e.ids for e in encodings], [len(e.overflowing) > 0 for e in encodings]
