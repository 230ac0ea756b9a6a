"""Maps a pydantic config to an argparse command line: one ``--option`` per field, help from its docs.

Light on purpose: argparse, pydantic and the config modules only, never Prefect, torch or transformers. A flow
file parses its command line with this before its heavy imports, so ``--help`` and a bad option answer at once.

Every option takes underscores or dashes (``--text_field`` or ``--text-field``); a ``--x/--no-x`` switch takes
``--no-x_y``, ``--no-x-y`` and ``--no_x_y``. Prefixes are not options: ``--input`` is refused, never read as
``--inputs``. A field whose default is ``None`` shows what that means in words, from the model's ``default_words``.
"""

from __future__ import annotations

import argparse
import fnmatch
import re
import sys
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from tasks.core.config import shown_value
from tasks.core.errors import DataError

M = typing.TypeVar("M", bound=BaseModel)
OTHER_OPTIONS = "other options"  # the group of a field no Group names (a test keeps it empty)


class OptionError(DataError):
    """A command-line value the config refuses (``--chunk_rows 0``, ``--device cuda`` without CUDA)."""


@dataclass(frozen=True)
class Group:
    """A titled section of ``--help``: the fields it holds, by name (``scratch.*`` for a nested model's fields)."""

    title: str
    description: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    """How ``--help`` presents a config: its groups, in order, and a metavar for fields the type alone names badly."""

    groups: tuple[Group, ...] = ()
    metavars: Mapping[str, str] = field(default_factory=dict)


def plain_text(text: str) -> str:
    """Docstring markup as plain text: ``code`` and :role:`target` lose their marks."""
    text = re.sub(r"``(.+?)``", r"\1", text, flags=re.DOTALL)
    return re.sub(r"(?::\w+:)?`([^`]+)`", r"\1", text)


def _help(text: str) -> str:
    return plain_text(text).replace("%", "%%")  # argparse %-formats every help string ("95 %" would break it)


class HelpFormatter(argparse.HelpFormatter):
    """One spelling per option (the underscore one), and paragraphs kept apart when text is re-wrapped."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=36)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = [" ".join(p.split()) for p in textwrap.dedent(text).split("\n\n") if p.strip()]
        return "\n\n".join(textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent,
                                         break_on_hyphens=False) for p in paragraphs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)  # "--model_checkpoint" whole

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = getattr(action, "shown", None)
        if not shown:
            return super()._format_action_invocation(action)
        if action.nargs == 0:
            return ", ".join(shown)
        return f"{shown[0]} {self._format_args(action, action.dest.upper())}"


class Switch(argparse.Action):
    """``--x`` / ``--no-x`` for a field that defaults to True, in every spelling (BooleanOptionalAction's rule)."""

    def __init__(self, option_strings: list[str], dest: str, negatives: Sequence[str] = (), **kwargs) -> None:
        super().__init__([*option_strings, *negatives], dest, nargs=0, **kwargs)
        self.negatives = frozenset(negatives)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, option_string not in self.negatives)


def _plain(annotation):
    """``X | None`` -> X; ``Literal[...]`` -> (str, choices)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is typing.Literal:
        choices = typing.get_args(annotation)
        return type(choices[0]), choices
    return annotation, None


def spellings(dest: str) -> list[str]:
    """``scratch.hidden_size`` -> ``--scratch_hidden_size`` (shown) and ``--scratch-hidden-size``."""
    flag = dest.replace(".", "_")
    return list(dict.fromkeys([f"--{flag}", f"--{flag.replace('_', '-')}"]))


def negative_spellings(dest: str) -> list[str]:
    flag = dest.replace(".", "_")
    return list(dict.fromkeys([f"--no-{flag}", f"--no-{flag.replace('_', '-')}", f"--no_{flag}"]))


METAVARS = {int: "N", float: "FLOAT", str: "TEXT", Path: "PATH"}


def _metavar(kind, dest: str, layout: Layout) -> str | None:
    if dest in layout.metavars:
        return layout.metavars[dest]
    if typing.get_origin(kind) is list:
        item = METAVARS.get(typing.get_args(kind)[0], "VALUE")
        return f"{item}[,{item}...]"
    return METAVARS.get(kind, "VALUE")


class Option(typing.NamedTuple):
    """One command-line option: a leaf field of the config (a nested model's fields are ``name.field``)."""

    dest: str
    info: FieldInfo
    kind: typing.Any  # the type without None: int, Path, list[float]...; str for a Literal
    choices: tuple | None  # a Literal's values
    words: str | None  # what the default means, from the model's ``default_words``


def options(model: type[BaseModel], prefix: str = "") -> list[Option]:
    words: Mapping[str, str] = getattr(model, "default_words", {})
    found = []
    for name, info in model.model_fields.items():
        kind, choices = _plain(info.annotation)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found += options(kind, prefix=f"{prefix}{name}.")
        else:
            found.append(Option(f"{prefix}{name}", info, kind, choices, words.get(name)))
    return found


def _default_text(default: object, kind, words: str | None) -> str:
    if words is not None:
        return f" (default: {words})"
    if kind is bool:
        return " (default: on)" if default else ""  # a plain switch is off until given
    if default is None:
        return " (default: not set)"
    return f" (default: {shown_value(default)})"


def _add_option(target, option: Option, layout: Layout) -> None:
    dest, info, kind, choices, words = option
    default = info.get_default(call_default_factory=True)
    helptext = _help(f"{info.description or ''}{_default_text(default, kind, words)}".strip())
    shown = spellings(dest)[:1]  # --help shows the underscore spelling only
    if kind is bool and default is False:
        # The seed's --do_train/--do_test/--do_predict are plain switches; keep them that way.
        action = target.add_argument(*spellings(dest), dest=dest, action="store_true", default=argparse.SUPPRESS,
                                     help=helptext)
    elif kind is bool:
        action = target.add_argument(*spellings(dest), dest=dest, action=Switch, negatives=negative_spellings(dest),
                                     default=argparse.SUPPRESS, help=helptext)
        shown = [*shown, negative_spellings(dest)[0]]
    else:
        # A list ("2e-5,3e-5") stays a string: the model's own validator splits and checks the values.
        convert = str if typing.get_origin(kind) is list else Path if kind is Path else kind
        action = target.add_argument(*spellings(dest), dest=dest, type=convert, choices=choices,
                                     metavar=None if choices else _metavar(kind, dest, layout),
                                     default=argparse.SUPPRESS, help=helptext)
    action.shown = shown


def _add_fields(parser: argparse.ArgumentParser, model: type[BaseModel], layout: Layout) -> None:
    def place(option: Option) -> tuple[int, int]:
        """(group, rank in it): the groups in the layout's order, each field where its group names it."""
        for g, group in enumerate(layout.groups):
            for rank, pattern in enumerate(group.fields):
                if fnmatch.fnmatchcase(option.dest, pattern):
                    return g, rank
        return len(layout.groups), 0  # a field no group names: last, under OTHER_OPTIONS

    sections: dict[int, argparse._ArgumentGroup] = {}
    placed = sorted(((place(option), option) for option in options(model)), key=lambda pair: pair[0])
    for (g, _), option in placed:  # a stable sort: the model's order otherwise
        if layout.groups and g not in sections:
            group = layout.groups[g] if g < len(layout.groups) else Group(OTHER_OPTIONS, "", ())
            sections[g] = parser.add_argument_group(group.title, _help(group.description) or None)
        _add_option(sections.get(g, parser), option, layout)


def config_parser(model: type[BaseModel], description: str, layout: Layout | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=plain_text(description or ""), allow_abbrev=False, formatter_class=HelpFormatter,
        usage="%(prog)s [--option VALUE ...]",  # the options themselves: --help, by group
        epilog="Every option may also be spelled with dashes: --text-field is --text_field.")
    _add_fields(parser, model, layout or Layout())
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


def parse_config(model: type[M], argv: list[str] | None, description: str, layout: Layout | None = None) -> M:
    parser = config_parser(model, description, layout)
    return config_from(model, vars(parser.parse_args(argv)), parser)


DATA_ERROR_EXIT = 2


def run_command(main: Callable[..., object], *args: object) -> None:
    """Run a flow's command line; bad input or configuration ends with its one message and exit code 2.

    ``args`` are what ``main`` takes: the config its command line was parsed into (before the heavy imports).
    A traceback would only bury the message: a DataError names the file, line and fix itself.
    """
    try:
        main(*args)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(DATA_ERROR_EXIT)
