"""Maps a pydantic config to an argparse command line: one ``--option`` per field, help from its docs."""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ValidationError

M = typing.TypeVar("M", bound=BaseModel)


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


def config_from(model: type[M], given: dict) -> M:
    """Only the options given on the command line override the model's own defaults."""
    nested: dict = {}
    for dest, value in given.items():
        *parents, leaf = dest.split(".")
        target = nested
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return model.model_validate(nested)


def parse_config(model: type[M], argv: list[str] | None, description: str) -> M:
    parser = config_parser(model, description)
    try:
        return config_from(model, vars(parser.parse_args(argv)))
    except ValidationError as exc:
        bad = [e for e in exc.errors() if e["loc"]]
        if not bad:
            raise  # a rule across options (e.g. "all three files"): its own message says it
        # A bad value of one option (e.g. "--batch_size 8,x"): a usage error, like argparse's own.
        parser.error("; ".join(f"--{'_'.join(map(str, e['loc'][:1]))}: {e['msg']}" for e in bad))


DATA_ERROR_EXIT = 2


def run_command(main: Callable[[list[str]], object], argv: list[str]) -> None:
    """Run a flow's command line; bad input or configuration ends with its one message and exit code 2.

    A traceback would only bury the message: a DataError names the file, line and fix itself.
    """
    from tasks.core.errors import DataError

    try:
        main(argv)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(DATA_ERROR_EXIT)
