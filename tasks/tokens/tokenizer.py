"""Tokenizers: load a checkpoint's, or train a WordPiece vocabulary on the training texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from prefect import task
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from tasks.core.files import atomic_path, sha256_text
from tasks.core.logs import logger
from tasks.core.records import SplitData, TokenizerRecord
from tasks.data.row_store import texts_of

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDPIECE_RECIPE = "bert-wordpiece-v2"  # bump when train_wordpiece changes what it builds
WORD_LIMIT = 2_000_000  # distinct words counted at once while building a vocabulary (~200 MB)


def fingerprint(tokenizer: PreTrainedTokenizerBase) -> str:
    """Digest of vocabulary, normalizer and special tokens: equal digests tokenize identically."""
    backend = tokenizer.backend_tokenizer.to_str() if tokenizer.is_fast else repr(tokenizer.get_vocab())
    return sha256_text(type(tokenizer).__name__, backend, repr(sorted(tokenizer.special_tokens_map.items())))


def load_tokenizer(name_or_path: str, local_files_only: bool = True) -> PreTrainedTokenizerBase:
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=local_files_only)
    if not tokenizer.is_fast:
        raise ValueError(f"{name_or_path}: only fast (Rust) tokenizers are supported, got {type(tokenizer).__name__}")
    return tokenizer


def wordpiece_vocab(texts: Iterable[str], vocab_size: int) -> list[str]:
    """Count words the way BERT splits them, then rank: characters, ``##`` pieces, frequent words.

    The tokenizers library's WordPieceTrainer returns a different vocabulary on every call for the
    same texts (its merges break ties in hash-map order), which would make the tokenization cache
    and every from-scratch run irreproducible. Counting with the library's own BERT normalizer and
    pre-tokenizer and ranking by (count, token) gives the same vocabulary every time.
    """
    normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    words: Counter[str] = Counter()
    for text in texts:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
        if len(words) > WORD_LIMIT:
            # Bounded memory on any corpus (ids, URLs and numbers make millions of distinct words): drop the
            # words seen once so far. Whole words need two sightings to be a token at all, and characters
            # are counted over millions of other words, so the vocabulary barely moves.
            words = Counter({word: n for word, n in words.items() if n > 1})
    initial, inner = Counter(), Counter()
    for word, count in words.items():
        initial[word[0]] += count
        for char in word[1:]:
            inner["##" + char] += count
    whole = Counter({word: n for word, n in words.items() if len(word) > 1 and n > 1})
    vocab = dict.fromkeys(SPECIAL_TOKENS)
    # Every character before any longer token, so that a small vocabulary still covers the most text.
    for counter in (initial, inner, whole):
        for token, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(vocab) >= vocab_size:
                return list(vocab)
            vocab.setdefault(token)
    return list(vocab)


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer: CJK characters split one by one, as bert-base-chinese does."""
    vocab = {token: i for i, token in enumerate(wordpiece_vocab(texts, vocab_size))}
    backend = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]",
    )


def every_nth(batches: Iterable[list[str]], step: int) -> Iterator[str]:
    """Rows 0, step, 2 step, ... of the whole stream, whatever the batch boundaries."""
    seen = 0
    for batch in batches:
        yield from batch[(-seen) % step :: step]
        seen += len(batch)


@task(name="prepare tokenizer")
def prepare_tokenizer(
    checkpoint: str | None, local_files_only: bool, train: SplitData, text_field: str, label_field: str,
    vocab_size: int, cache_dir: Path, vocab_texts: int = 200_000,
) -> TokenizerRecord:
    """The checkpoint's tokenizer, or a WordPiece vocabulary trained once per training file and size."""
    if checkpoint is not None:
        tokenizer = load_tokenizer(checkpoint, local_files_only)
        return TokenizerRecord(path=checkpoint, fingerprint=fingerprint(tokenizer), trained_here=False)
    step = max(1, -(-train.valid_rows // vocab_texts))  # every step-th row: an even sample of a long file
    key = sha256_text(WORDPIECE_RECIPE, train.sha256, text_field, label_field, str(vocab_size), str(step))[:16]
    folder = cache_dir / "tokenizers" / key
    if (folder / "tokenizer.json").is_file():
        logger().info("tokenizer cache hit: WordPiece vocabulary %s", folder)
    else:
        # Only rows that passed validation (a rejected row's text should not shape the vocabulary), streamed
        # from the rows file: word counts are all that is held.
        tokenizer = train_wordpiece(every_nth(texts_of(train.rows_file), step), vocab_size)
        with atomic_path(folder) as tmp:
            tokenizer.save_pretrained(tmp)
        logger().info("trained a WordPiece vocabulary of %d tokens on %s training texts -> %s", len(tokenizer),
                      f"{train.valid_rows:,}" if step == 1 else f"one in {step} of {train.valid_rows:,}", folder)
    tokenizer = load_tokenizer(str(folder))
    return TokenizerRecord(path=str(folder), fingerprint=fingerprint(tokenizer), trained_here=True)
