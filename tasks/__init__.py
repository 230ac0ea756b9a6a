"""The pipeline's logic as small typed functions, each step wrapped as a Prefect task, one package per stage.

Layers, from the bottom: ``core`` (config, records, errors, files, logs), ``ui`` (how anything is shown),
``data``, ``tokens``, ``training``, then ``pretraining`` and ``drift`` side by side, then ``evaluation`` and
``scoring`` side by side. A module imports only its own stage and the stages below; ``flows/`` wires them.
The contract is in pyproject.toml and checked by ``lint-imports`` in CI.
"""
