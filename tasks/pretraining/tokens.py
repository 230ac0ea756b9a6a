"""The pre-training corpus tokenized once into the Parquet token cache, cut into sequences, words marked.

Each Parquet row is one sequence: ``[CLS]`` + at most ``max_seq_length - 2`` tokens + ``[SEP]``. A long text
becomes several sequences instead of being cut off. ``word_starts`` marks the tokens that begin a word:
from the corpus's segmentation where it has one, else every token that is not a ``##`` continuation.
The key hashes the files' bytes, the text field, the tokenizer and the sequence length.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.core.files import atomic_path, read_json, sha256_text, write_jsonl, write_text
from tasks.pretraining.records import CorpusFile, MlmCorpus
from tasks.tokens.batching import TokenizedData, load_tokenized

TOKENS_FORMAT = "mlm-tokens-v1"  # bump when the layout or the cutting changes
CHUNK_TEXTS = 2048


def corpus_key(files: list[CorpusFile], text_field: str, tokenizer_fingerprint: str, max_seq_length: int) -> str:
    return sha256_text(TOKENS_FORMAT, text_field, tokenizer_fingerprint, str(max_seq_length),
                       *(f.sha256 for f in files))[:20]


def word_start_flags(offsets: list[tuple[int, int]], continuation: np.ndarray, ids: list[int],
                     lengths: list[int] | None) -> list[bool]:
    """Per token: does it begin a word? A ``##`` piece never does, so a word piece stays with its word."""
    if lengths is None:
        return [not continuation[i] for i in ids]
    bounds = np.cumsum([0, *lengths]).tolist()
    # The word holding a token's first character; the token starts a word when that word changes.
    words = [bisect_right(bounds, start) for start, _ in offsets]
    return [not continuation[i] and (k == 0 or words[k] != words[k - 1]) for k, i in enumerate(ids)]


def cut_sequences(ids: list[int], starts: list[bool], room: int, cls: int, sep: int):
    for begin in range(0, len(ids), room):
        piece = ids[begin : begin + room]
        flags = starts[begin : begin + room]
        yield [cls, *piece, sep], [True, True, *flags[1:], True]  # a cut's first token begins a word


def tokenize_texts(texts: list[tuple[str, list[int] | None]], tokenizer, max_seq_length: int) -> pa.Table:
    vocab = tokenizer.get_vocab()
    continuation = np.zeros(len(tokenizer), dtype=bool)
    for token, index in vocab.items():
        continuation[index] = token.startswith("##")
    all_ids, all_starts = [], []
    for begin in range(0, len(texts), CHUNK_TEXTS):
        chunk = texts[begin : begin + CHUNK_TEXTS]
        encoded = tokenizer([t for t, _ in chunk], add_special_tokens=False, return_offsets_mapping=True,
                            return_attention_mask=False, return_token_type_ids=False)
        for (_, lengths), ids, offsets in zip(chunk, encoded["input_ids"], encoded["offset_mapping"], strict=True):
            starts = word_start_flags(offsets, continuation, ids, lengths)
            for seq, flags in cut_sequences(ids, starts, max_seq_length - 2, tokenizer.cls_token_id,
                                            tokenizer.sep_token_id):
                all_ids.append(seq)
                all_starts.append(flags)
    ids = pa.array(all_ids, type=pa.list_(pa.int32()))
    return pa.table({
        "row": pa.array(range(len(all_ids)), pa.int32()), "line": pa.array(range(len(all_ids)), pa.int32()),
        "input_ids": ids, "length": pa.compute.list_value_length(ids).cast(pa.int32()),
        "label_id": pa.array(np.zeros(len(all_ids), dtype=np.int32)),
        "word_starts": pa.array(all_starts, type=pa.list_(pa.bool_())),
    })


def cached_corpus(folder: Path) -> MlmCorpus | None:
    meta = folder / "corpus.json"
    return MlmCorpus(**read_json(meta)).model_copy(update={"cache_hit": True}) if meta.is_file() else None


def write_corpus(folder: Path, table: pa.Table, record: MlmCorpus, rejects: list[dict]) -> MlmCorpus:
    target = folder / "corpus.parquet"
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)
    if rejects:
        write_jsonl(folder / "rejects.jsonl", rejects)
    write_text(folder / "corpus.json", json.dumps(record.model_dump(mode="json"), ensure_ascii=False, indent=1))
    return record


def load_corpus(path: Path) -> tuple[TokenizedData, np.ndarray]:
    """The sequences in the fine-tuning engine's layout, and the word-start flags aligned with its tokens."""
    data = load_tokenized(path)
    starts = pa.compute.list_flatten(pq.read_table(path, columns=["word_starts"]).column("word_starts")
                                     .combine_chunks()).to_numpy(zero_copy_only=False)
    return data, starts
