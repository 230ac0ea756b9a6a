"""Tokens: tokenizers, and each split tokenized once into a content-keyed Parquet cache.

Reads the validated rows files. Loads a checkpoint's tokenizer or trains a WordPiece vocabulary on (a sample of)
the training texts (``tokenizer``); writes the token cache under ``data/cache/`` keyed by the rows, the tokenizer
and the length limit (``cache``), and reads it back as flat arrays in length-grouped, dynamically padded batches
(``batching``). Main tasks: ``prepare tokenizer``, ``tokenize``.
"""
