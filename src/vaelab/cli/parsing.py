"""Reading the command line with tyro, and saying what is wrong with one in one line.

tyro answers a bad command line with a boxed panel of several lines that can name internal
field names (``run-dir``) and send the user to the top-level help. Here a hook on tyro's
parse errors words each kind of mistake as one sentence that names the flag as the user typed
it, what it takes or the valid choices, and the command's own ``--help``. A kind the hook
does not know (a newer tyro) is still cut down to one line from tyro's own text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import io
import itertools
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass
from typing import Annotated, Any, Union

import tyro

from vaelab.cli.commands import COMMANDS, Train
from vaelab.errors import VaelabError, did_you_mean


def _paragraphs(text: str) -> str:
    """A docstring's text with each paragraph on one line."""
    return "\n\n".join(" ".join(line.strip() for line in block.splitlines())
                       for block in re.split(r"\n\s*\n", text.strip()))


def _help_in_paragraphs() -> None:
    """tyro takes a field's help and a command's description from their docstrings with the
    line breaks of the source, and keeps some of them (before a line that starts with '(',
    and every one of a field's indented continuation lines), so that ``--help`` broke the
    text where the source does. Hand it the docstrings' paragraphs each as one line, which it
    then wraps to the terminal's width. This changes tyro for the whole process (vaelab's
    command line is its only user here); a tyro whose functions are missing or take other
    arguments keeps its own behaviour."""
    try:
        from tyro import _docstrings
        parse = _docstrings.parse_docstring_from_object
        describe = _docstrings.get_callable_description
    except (ImportError, AttributeError):
        return
    if getattr(parse, "in_paragraphs", False):
        return

    @functools.lru_cache(maxsize=1024)
    def in_paragraphs(*args: Any, **kwargs: Any) -> Any:
        texts = parse(*args, **kwargs)
        try:
            return {name: _paragraphs(text) for name, text in texts.items()}
        except (AttributeError, TypeError):
            return texts

    def described(*args: Any, **kwargs: Any) -> Any:
        text = describe(*args, **kwargs)
        return _paragraphs(text) if isinstance(text, str) else text

    in_paragraphs.in_paragraphs = True  # type: ignore[attr-defined]
    _docstrings.parse_docstring_from_object = in_paragraphs
    _docstrings.get_callable_description = described
    _description_wrapped()


BOX = ("╭", "│", "╰")  # how the lines of tyro's boxes begin


def _description_wrapped() -> None:
    """tyro prints a command's description above its boxes as it is, one paragraph a line of
    any length: wrap it to the boxes' width (the terminal's, or less)."""
    try:
        from tyro._backends import _tyro_help_formatting as formatting
        lines_of = formatting.format_help
    except (ImportError, AttributeError):
        return

    def format_help(*args: Any, **kwargs: Any) -> Any:
        lines = lines_of(*args, **kwargs)
        try:
            return wrapped(lines, shutil.get_terminal_size().columns)
        except TypeError:  # not lines of text: as it is
            return lines

    formatting.format_help = format_help


def wrapped(lines: list[str], columns: int) -> list[str]:
    """Help lines with those of plain text wrapped to the boxes' width (else ``columns``);
    the boxes' lines, and lines in colour, as they are."""
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines]
    boxes = [len(line) for line in plain if line.startswith(BOX)]
    width = max(boxes) if boxes else columns
    return [part for line, seen in zip(lines, plain, strict=True) for part in
            (textwrap.wrap(line, width, break_on_hyphens=False)
             if len(seen) > width and line == seen and not seen.startswith(BOX) else [line])]


_help_in_paragraphs()
_Command = Union[tuple(Annotated[kind, tyro.conf.subcommand(name)]  # noqa: UP007
                       for name, kind in COMMANDS.items())]
CONFIG = (tyro.conf.OmitArgPrefixes, tyro.conf.OmitSubcommandPrefixes,
          tyro.conf.FlagCreatePairsOff, tyro.conf.DisallowNone)
KINDS = {"INT": "a whole number", "FLOAT": "a number", "N": "a whole number"}


@dataclass
class Vaelab:
    """Autoencoders and variational autoencoders on images. `vaelab COMMAND --help` lists a
    command's options."""

    command: Annotated[_Command, tyro.conf.arg(name="")]
    version: Annotated[bool, tyro.conf.arg(aliases=("-V",), help_behavior_hint="")] = False
    """Print vaelab's version and exit."""


class UsageError(VaelabError):
    """A command line that does not parse, said in one line."""


def parse(argv: list[str]) -> Any:
    """The command that ``argv`` (without the program's name) asks for, or UsageError."""
    if argv and argv[0] in COMMANDS and _asks_help(argv[1:]):
        # tyro leaves the positionals already given (a RUN, 'train') out of the usage and
        # the list; `vaelab eval RUN --help` shows the command's whole help instead.
        argv = [argv[0], "--help"]
    command = _cli(Vaelab, argv, argv, "vaelab").command
    if isinstance(command, Train) and (command.resume or command.settings) is not None:
        # Parse again with the saved run's settings as defaults, so that --resume RUN alone
        # continues the run as it was configured, and flags given with --config override.
        saved = command.saved_config()
        command = _cli(Train, argv[1:], argv, "vaelab train", default=Train(config=saved))
        from vaelab.training.datasets import data_key  # PyTorch, which training loads anyway

        if command.settings is not None and data_key(command.config) != data_key(saved):
            # other images than --config's run's, by the flags given:
            # what that run recorded of its own (fingerprint, shape, classes) is not theirs
            data = dataclasses.replace(command.config.data, image_shape=None, classes=None,
                                       fingerprint=None)
            command.config = dataclasses.replace(command.config, data=data)
    return command


def _asks_help(args: list[str]) -> bool:
    """Whether -h or --help is among ``args`` as an option (before a '--')."""
    for token in args:
        if token == "--":
            return False
        if token in ("-h", "--help"):
            return True
    return False


def _cli(kind: type, args: list[str], argv: list[str], prog: str, **options: Any) -> Any:
    """tyro.cli with vaelab's settings; its errors come back as UsageError."""
    command = argv[0] if argv and argv[0] in COMMANDS else None
    hooked = _hooked(lambda event: _raise(event, argv, command))
    captured = io.StringIO()
    try:
        with hooked, contextlib.redirect_stderr(captured):
            parsed = tyro.cli(kind, args=args, prog=prog, config=CONFIG, **options)
    except SystemExit as done:
        if done.code in (0, None):  # --help, printed on stdout
            raise
        raise UsageError(_from_panel(captured.getvalue(), command)) from None
    sys.stderr.write(captured.getvalue())  # tyro's warnings, if it had any
    return parsed


def _hooked(hook: Any) -> contextlib.AbstractContextManager:
    try:
        from tyro._errors import on_parse_error
    except ImportError:  # a tyro without the hook: its own text, cut down to one line
        return contextlib.nullcontext()
    return on_parse_error(hook)


def _raise(event: Any, argv: list[str], command: str | None) -> None:
    try:
        message = _message(event, argv, command)
    except (AttributeError, TypeError, IndexError):  # the event's shape changed: tyro's text
        return
    if message is not None:
        raise UsageError(message)


def _message(event: Any, argv: list[str], command: str | None) -> str | None:
    """One sentence for a tyro parse-error event, or None to let tyro word it."""
    kind, where = type(event).__name__, f"vaelab {command}" if command else "vaelab"
    see = f"; {where} --help lists them" if command else "; vaelab --help lists the commands"
    if kind == "InvalidChoice":
        choices = ", ".join(event.choices) + did_you_mean(str(event.value), event.choices)
        if event.argument.is_positional():
            return f"{where}: {event.value!r} is not one of: {choices}"
        return f"{_typed(event.argument, argv)} {event.value!r} is not one of: {choices}"
    if kind == "MissingSubcommand" or (kind == "UnrecognizedArgs" and command is None):
        token = getattr(event, "found_token", None) or next(iter(getattr(event, "tokens", [])),
                                                            None)
        if token is None:
            return f"no command given; choose one of: {', '.join(COMMANDS)}"
        if token.startswith("-"):
            return (f"unknown option {token} (options come after the command, as in vaelab "
                    f"COMMAND {token}){see}")
        return (f"unknown command {token!r}{did_you_mean(token, COMMANDS)}; choose one of: "
                f"{', '.join(COMMANDS)}")
    if kind == "UnrecognizedArgs":
        flags = [token for token in event.tokens if token.startswith("-")]
        if not flags:
            return f"{where}: unexpected argument {event.tokens[0]!r}; see {where} --help"
        if "--" in argv and flags[0] in _flags_of(command):
            return (f"{where}: after '--' every word is an argument, not an option; put "
                    f"{flags[0]} before the '--'")
        return f"{where} has no option {flags[0]}{_did_you_mean(flags[0], command)}{see}"
    if kind == "MissingArgs":
        missing = " and ".join(_described(ctx.arg) for ctx in event.missing_arguments)
        return f"{where} needs {missing}; see {where} --help"
    if kind == "BadValue":
        name = _typed(event.argument, argv)
        if event.offending_value is None:
            kind = _kind(event.argument)
            takes = "" if kind in ("STR", "a value") else f": {kind}"
            return f"{name} needs a value{takes}; see {where} --help"
        return f"{name} takes no value here, got {event.offending_value!r}"
    if kind == "InstantiationFailure" and event.argument is not None:
        name = _typed(event.argument, argv)
        several = event.argument.lowered.nargs not in (None, 1, "?")
        value = _value_after(argv, event.argument.lowered.name_or_flags, several)
        got = f", not {value!r}" if value is not None else ""
        return f"{name} takes {_kind(event.argument)}{got}"
    return None


def _typed(argument: Any, argv: list[str]) -> str:
    """The flag as the user wrote it (-n, --loss), else its long form; a positional's
    placeholder (RUN), never the field's name."""
    if argument.is_positional():
        return argument.lowered.metavar or "an argument"
    names = argument.lowered.name_or_flags
    written = [token.partition("=")[0] for token in argv if token.partition("=")[0] in names]
    longs = [name for name in names if name.startswith("--")]
    return (written or longs or list(names))[0]


def _described(argument: Any) -> str:
    """'RUN (the run folder)': the placeholder and the first words of its help."""
    helptext = argument.field.helptext
    helptext = helptext() if callable(helptext) else helptext
    name = argument.lowered.metavar if argument.is_positional() else _typed(argument, [])
    first = (helptext or "").split(". ")[0].rstrip(".")
    return f"{name} ({first[:1].lower()}{first[1:]})" if first else name


def _kind(argument: Any) -> str:
    """What a flag takes, in words: 'a whole number', 'whole numbers', or its placeholder."""
    metavar = argument.lowered.metavar or ""
    if metavar.startswith("[") and metavar[1:].split(" ")[0] in KINDS:  # [INT [INT ...]]
        return KINDS[metavar[1:].split(" ")[0]].removeprefix("a ") + "s"
    return KINDS.get(metavar, metavar or "a value")


def _value_after(argv: list[str], names: tuple[str, ...], several: bool = False
                 ) -> str | None:
    """What the user gave a flag: ``--epochs abc`` or ``--epochs=abc``, or to a flag of
    ``several`` values every word up to the next option (``--hidden-dims 256 128 x``: not
    '256', which is fine); the last one counts."""
    found = None
    for i, token in enumerate(argv):
        flag, equals, value = token.partition("=")
        if flag in names and (equals or not several):
            found = value if equals else (argv[i + 1] if i + 1 < len(argv) else None)
        elif flag in names:
            words = itertools.takewhile(lambda w: not (w[:1] == "-" and not w[1:2].isdigit()),
                                        argv[i + 1:])  # to the next option, not -1
            found = " ".join(words) or None
    return found


def _did_you_mean(flag: str, command: str | None) -> str:
    close = difflib.get_close_matches(flag, _flags_of(command), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close and close[0] != flag else ""


def _flags_of(command: str | None) -> list[str]:
    """The flags a command takes, as its --help lists them."""
    if command is None:
        return []
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.suppress(SystemExit):
        tyro.cli(COMMANDS[command], args=["--help"], prog=f"vaelab {command}", config=CONFIG)
    return sorted(set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", shown.getvalue())))


def _from_panel(text: str, command: str | None) -> str:
    """tyro's boxed message as one line: its first paragraph, and where help is. The box is
    drawn in lines (a terminal) or plain (elsewhere): a title, rules between paragraphs."""
    rows = [row.strip().strip("│").strip() for row in text.splitlines() if row.strip()]
    if rows and not text.lstrip().startswith("╭") and len(rows) > 1 and _RULE.match(rows[1]):
        rows = rows[1:]  # an undrawn box's title
    paragraphs, current = [], []
    for row in [*rows, "─"]:
        if _RULE.match(row) or row.startswith(("╭", "╰")):
            paragraphs += [" ".join(current)] if current else []
            current = []
        else:
            current.append(row)
    said = [p for p in paragraphs if not p.startswith(("For full helptext", "usage:"))]
    first = said[0].rstrip(".") if said else "the command line does not parse"
    where = f"vaelab {command}" if command else "vaelab"
    return f"{first}; see {where} --help"


_RULE = re.compile(r"^[─━-]+$")
