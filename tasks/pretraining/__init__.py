"""Pre-training: continued masked-language-model training of the encoder on unlabelled text, before fine-tuning.

Reads a corpus (the user's JSONL or text files, or the built-in one) and an encoder or the scratch shape.
Prepares the corpus and its tokenizer (``corpus``, ``data``), cuts texts into sequences in the token cache
(``tokens``), masks them as BERT does (``masking``) and trains on the fine-tuning engine's parts (``loop``,
``worker``). Writes ``artifacts/pretrained/<key>/model/`` (an encoder ``--model_checkpoint`` takes as it is),
``result.json`` and a perplexity plot, cached by content. Main task: ``pre-train``.
"""
