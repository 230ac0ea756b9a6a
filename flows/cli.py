"""Maps a pydantic config to an argparse command line: one ``--option`` per field, help from its docs."""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from tasks.core.errors import DataError

M = typing.TypeVar("M", bound=BaseModel)


class OptionError(DataError):
    """A command-line value the config refuses (``--chunk_rows 0``, ``--device cuda`` without CUDA)."""


def _plain(annotation):
    """``X | None`` -> X; ``Literal[...]`` -> (str, choices)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]), choices
    return annotation, None


def _add_fields(parser: argparse.ArgumentParser, model: type[BaseModel], prefix: str = "") -> None:
    for name, field in model.model_fields.items():
        kind, choices = _plain(field.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            _add_fields(parser, kind, prefix=f"{prefix}{name}.")
            continue
        flag, dest = f"--{prefix.replace('.', '_')}{name}", f"{prefix}{name}"
        default = field.get_default(call_default_factory=True)
        helptext = f"{field.description or ''} (default: {default})"
        if kind is bool and default is False:
            # The seed's --do_train/--do_test/--do_predict are plain switches; keep them that way.
            parser.add_argument(flag, dest=dest, action="store_true", default=argparse.SUPPRESS, help=helptext)
        elif kind is bool:
            parser.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=helptext)
        else:
            if typing.get_origin(kind) is list:
                kind = str  # "2e-5,3e-5": the model's own validator splits and checks the values
            parser.add_argument(flag, dest=dest, type=Path if kind is Path else kind, choices=choices,
                                default=argparse.SUPPRESS, help=helptext)


def config_parser(model: type[BaseModel], description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    _add_fields(parser, model)
    return parser


def option_errors(exc: ValidationError) -> str:
    """One line for every broken rule: ``--chunk_rows: Input should be greater than 0``, or a rule across options."""
    def one(error: dict) -> str:
        message = error["msg"].removeprefix("Value error, ")
        names = [str(part) for part in error["loc"] if isinstance(part, str)]  # not a list item's index
        return f"--{'_'.join(names)}: {message}" if names else message  # across options: the message names them
    return "; ".join(one(e) for e in exc.errors())


def config_from(model: type[M], given: dict, parser: argparse.ArgumentParser | None = None) -> M:
    """Only the options given on the command line override the model's own defaults.

    A value the model refuses is a usage error, raised before any work: with ``parser``, argparse's own (usage,
    one ``error:`` line, exit 2); without, an ``OptionError`` that ``run_command`` ends the same way (exit 2).
    """
    nested: dict = {}
    for dest, value in given.items():
        *parents, leaf = dest.split(".")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    try:
        return model.model_validate(nested)
    except ValidationError as exc:
        if parser is not None:
            parser.error(option_errors(exc))
        raise OptionError(option_errors(exc)) from None


def parse_config(model: type[M], argv: list[str] | None, description: str) -> M:
    parser = config_parser(model, description)
    return config_from(model, vars(parser.parse_args(argv)), parser)


DATA_ERROR_EXIT = 2


def run_command(main: Callable[[list[str]], object], argv: list[str]) -> None:
    """Run a flow's command line; bad input or configuration ends with its one message and exit code 2.

    A traceback would only bury the message: a DataError names the file, line and fix itself.
    """
    try:
        main(argv)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(DATA_ERROR_EXIT)
