"""What of a text over the model's limit the model sees: a record every flow, cache key and saved model shares.

Sun et al. 2019 ("How to Fine-Tune BERT for Text Classification?") found the head and the tail together (the first
128 and the last 382 of 510 tokens) better than the head alone on long reviews and news, at no extra cost.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TruncationMode = Literal["head", "tail", "head_tail"]
LongTexts = Literal["cut", "window"]
PAPER_HEAD, PAPER_CONTENT = 128, 510  # Sun et al.'s split of BERT's 510 content tokens


class Truncation(BaseModel):
    """``head``: the first tokens (the tokenizer's own truncation, as before); ``tail``: the last ones;
    ``head_tail``: ``head_tokens`` from the start and the rest from the end (None: 128 of 510, scaled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: TruncationMode = "head"
    head_tokens: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _head_tokens_for_head_tail(self) -> Truncation:
        if self.head_tokens is not None and self.mode != "head_tail":
            raise ValueError(f"--head_tokens is for --truncation head_tail, not {self.mode}")
        return self

    def split(self, content: int) -> tuple[int, int]:
        """(tokens from the head, tokens from the tail) of a text cut to ``content`` tokens between [CLS]/[SEP]."""
        if self.mode == "head":
            return content, 0
        if self.mode == "tail":
            return 0, content
        head = round(content * PAPER_HEAD / PAPER_CONTENT) if self.head_tokens is None else self.head_tokens
        if head > content:
            raise ValueError(f"--head_tokens {head} is more than the {content} tokens a text keeps at this "
                             "--max_seq_length (two go to [CLS] and [SEP])")
        return head, content - head

    def resolved(self, content: int) -> Truncation:
        """The same choice with ``head_tokens`` as a number, as saved with a model and in a scoring manifest."""
        if self.mode != "head_tail":
            return self
        return Truncation(mode="head_tail", head_tokens=self.split(content)[0])

    def words(self) -> str:
        if self.mode == "head_tail":
            return f"head_tail ({self.head_tokens if self.head_tokens is not None else 'scaled'} head tokens)"
        return self.mode


TRUNCATION_HELP = ("What the model sees of a text over --max_seq_length: its first tokens ('head'), its last "
                   "('tail'), or --head_tokens of the first and the rest from the end ('head_tail').")
HEAD_TOKENS_HELP = "With --truncation head_tail: tokens kept from the head; the rest of the limit comes from the tail."
HEAD_TOKENS_WORDS = "128 of every 510 tokens, as Sun et al. 2019 found best"
WINDOW_STRIDE_HELP = "With --long_texts window: tokens from one window's start to the next."
WINDOW_STRIDE_WORDS = "half a window"


def check_long_text_options(truncation: str | None, head_tokens: int | None, long_texts: str,
                            window_stride: int | None) -> None:
    """Refuse options that would be ignored, when the config is built: the command line stops at once."""
    if head_tokens is not None and truncation != "head_tail":
        raise ValueError(f"--head_tokens is for --truncation head_tail, not {truncation or 'the default'}")
    if window_stride is not None and long_texts != "window":
        raise ValueError("--window_stride is for --long_texts window")
