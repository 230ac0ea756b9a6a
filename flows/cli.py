"""Maps a pydantic config to an argparse command line: one ``--option`` per field, help from its docs."""

from __future__ import annotations

import argparse
import types
import typing
from pathlib import Path

from pydantic import BaseModel

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
    return config_from(model, vars(config_parser(model, description).parse_args(argv)))
