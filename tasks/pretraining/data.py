"""Pre-training's data tasks: find (or build) the corpus, prepare the tokenizer, tokenize into the cache."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from tasks.core.config import BUILTIN_CORPUS, PretrainConfig
from tasks.core.errors import DataError
from tasks.core.files import atomic_path, sha256_text
from tasks.core.logs import logger
from tasks.core.records import TokenizerRecord
from tasks.pretraining.corpus import TextSource, corpus_files, digest_of, materialize_builtin, read_corpus, texts_of
from tasks.pretraining.records import MlmCorpus
from tasks.pretraining.tokens import cached_corpus, corpus_key, tokenize_texts, write_corpus
from tasks.tokens.tokenizer import WORDPIECE_RECIPE, fingerprint, load_tokenizer, train_wordpiece

SHOWN_REJECTS = 5


@task(name="prepare pre-training corpus")
def prepare_corpus(cfg: PretrainConfig, splits: dict[str, TextSource] | None = None) -> tuple[list[Path], str]:
    """The corpus files and a description. ``builtin``: news + ``splits['train']`` texts, none of dev/test."""
    if cfg.corpus.lower() != BUILTIN_CORPUS:
        files = corpus_files(cfg.corpus)
        return files, f"`{cfg.corpus}` ({len(files)} file{'s' if len(files) > 1 else ''})"
    if splits is None:
        raise DataError("the built-in corpus needs the fine-tuning splits, to add train and leave out dev/test")
    path, description = materialize_builtin(cfg.data_dir, splits["train"], [splits["dev"], splits["test"]],
                                            cfg.text_field)
    logger().info("built-in pre-training corpus %s: %s", path, description)
    return [path], description


@task(name="prepare pre-training tokenizer")
def prepare_mlm_tokenizer(cfg: PretrainConfig, files: list[Path], checkpoint: str | None,
                          local_files_only: bool = True, also: tuple[TextSource, str] | None = None) -> TokenizerRecord:
    """The checkpoint's tokenizer, or a WordPiece vocabulary trained on the corpus (the default's recipe).

    ``also`` (a JSONL file and its text field): more texts for the vocabulary. Chained before fine-tuning,
    the training texts: a corpus without the task's characters would leave them all ``[UNK]``.
    """
    if checkpoint is not None:
        tokenizer = load_tokenizer(checkpoint, local_files_only)
        return TokenizerRecord(path=checkpoint, fingerprint=fingerprint(tokenizer), trained_here=False)
    texts, corpus, _ = read_corpus(files, cfg.text_field)
    extra = [(text, None) for text in texts_of(*also)] if also else []
    key = sha256_text(WORDPIECE_RECIPE, "mlm", cfg.text_field, str(cfg.scratch.vocab_size),
                      *(f.sha256 for f in corpus), *([digest_of(also[0]), also[1]] if also else []))[:16]
    texts += extra
    folder = cfg.data_dir / "cache" / "tokenizers" / key
    if (folder / "tokenizer.json").is_file():
        logger().info("tokenizer cache hit: WordPiece vocabulary %s", folder)
    else:
        tokenizer = train_wordpiece([text for text, _ in texts], cfg.scratch.vocab_size)
        with atomic_path(folder) as tmp:
            tokenizer.save_pretrained(tmp)
        logger().info("trained a WordPiece vocabulary of %d tokens on %d texts (corpus%s) -> %s", len(tokenizer),
                      len(texts), " and training texts" if also else "", folder)
    return TokenizerRecord(path=str(folder), fingerprint=fingerprint(load_tokenizer(str(folder))), trained_here=True)


@task(name="tokenize pre-training corpus")
def tokenize_corpus(cfg: PretrainConfig, files: list[Path], description: str, tok: TokenizerRecord) -> MlmCorpus:
    """Validate and tokenize the corpus once; a bad line is counted and set aside, never fatal."""
    log = logger()
    texts, corpus, rejects = read_corpus(files, cfg.text_field)
    key = corpus_key(corpus, cfg.text_field, tok.fingerprint, cfg.max_seq_length)
    folder = cfg.data_dir / "cache" / "mlm" / key
    if (hit := cached_corpus(folder)) is not None:
        log.info("tokenization cache hit for the pre-training corpus: %s (%d sequences)", folder, hit.sequences)
        return hit
    for reject in rejects[:SHOWN_REJECTS]:
        log.warning("%s:%d: %s", reject["file"], reject["line"], reject["reason"])
    if not texts:
        raise DataError(f"the pre-training corpus {description} has no valid text ({len(rejects)} lines rejected)")
    table = tokenize_texts(texts, load_tokenizer(tok.path), cfg.max_seq_length)
    record = MlmCorpus(description=description, parquet=folder / "corpus.parquet", cache_key=key, cache_hit=False,
                       files=tuple(corpus), texts=len(texts), sequences=table.num_rows,
                       tokens=int(table.column("length").to_numpy().sum()),
                       segmented_texts=sum(1 for _, lengths in texts if lengths))
    write_corpus(folder, table, record, rejects)
    rejected = f"{len(rejects)} lines rejected: {folder / 'rejects.jsonl'}" if rejects else "no line rejected"
    log.info("tokenized the pre-training corpus: %d texts (%s) -> %d sequences, %d tokens -> %s (cache miss, key %s)",
             len(texts), rejected, record.sequences, record.tokens, folder, key)
    return record
