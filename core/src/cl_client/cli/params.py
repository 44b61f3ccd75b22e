"""How ``cl`` reads, names and checks option and argument values, for every command.

Typer checks values with pydantic, whose import costs more than the rest of ``cl --help``, and
whose messages (``Input should be a valid integer, unable to parse string as an integer``) speak
of Python, not of the command line. :func:`use_plain_values` gives each parameter of the common
kinds (text, whole numbers, numbers, yes/no, paths, a fixed set of values, lists of these) a
converter of ours instead, with messages that name the flag in the user's words. Parameters of
other kinds keep Typer's own conversion.

:func:`placeholder` is the one place that names a value in help and usage (``N``, ``NUMBER``,
``TEXT``, ``PATH``, ``a|b``); :func:`usage_error_text` turns any of Click's usage errors into one
lower-case line.

Only Typer and the standard library are imported here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from typing import Final, Literal, cast, get_args, get_origin

from typer import _click as click
from typer._click import exceptions as click_exceptions
from typer._coercion import RuntimeParam
from typer.core import TyperArgument, TyperOption, _TyperParameter  # pyright: ignore[reportPrivateUsage]

Convert = Callable[[object], object]

#: Placeholders of values by kind, used wherever a command does not name its own.
PLACEHOLDERS: Final = {"int": "N", "float": "NUMBER", "str": "TEXT", "path": "PATH", "bool": "BOOL"}

_TRUE: Final = frozenset({"1", "true", "yes", "y", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "n", "off"})


class ValueProblem(ValueError):
    """A value the converter refused; the message says why, in the user's words."""


# --- what a parameter holds --------------------------------------------------------------------


def _element(annotation: object) -> object:
    """The type of one value: ``list[X]`` → ``X``."""
    if get_origin(annotation) is list:
        args: tuple[object, ...] = get_args(annotation)
        return args[0] if args else str
    return annotation


def _choices(annotation: object) -> tuple[object, ...] | None:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(annotation)
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return None


def _choice_text(choice: object) -> str:
    return str(choice.value) if isinstance(choice, Enum) else str(choice)


def choice_names(param: click.Parameter) -> list[str] | None:
    """The values a parameter accepts, when it is a fixed set (an Enum or a Literal)."""
    if not isinstance(param, _TyperParameter):
        return None
    choices = _choices(_element(param.type_descriptor.annotation))
    return None if choices is None else [_choice_text(c) for c in choices]


def metavar_choices(param: click.Parameter) -> list[str] | None:
    """The values a text option lists in its placeholder (``--algorithm sha512|md5``)."""
    metavar = param.metavar or ""
    parts = metavar.split("|")
    if len(parts) > 1 and all(p and p.replace("-", "").replace("_", "").isalnum() for p in parts):
        return parts
    return None


def _kind(annotation: object) -> str | None:
    element = _element(annotation)
    if element is bool:
        return "bool"
    if element is int:
        return "int"
    if element is float:
        return "float"
    if element is str:
        return "str"
    if _is_path_type(element):
        return "path"
    if _choices(element) is not None:
        return "choice"
    return None


def _is_path_type(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, PurePath)


def placeholder(param: click.Parameter) -> str:
    """The name of the value in help and usage: the metavar a command gave, else by kind."""
    if param.metavar:
        return param.metavar
    if isinstance(param, TyperArgument):
        return param.name.upper()
    if isinstance(param, _TyperParameter):
        names = choice_names(param)
        if names is not None:
            return "|".join(names)
        return PLACEHOLDERS.get(_kind(param.type_descriptor.annotation) or "", "VALUE")
    return "VALUE"


def flag_name(param: click.Parameter) -> str:
    """How messages name a parameter: its long option (``--jobs``) or its placeholder."""
    if isinstance(param, TyperOption):
        longs = [o for o in param.opts if o.startswith("--")]
        return (longs or param.opts or [param.name])[0]
    return placeholder(param)


# --- converting values ---------------------------------------------------------------------------


def _number_text(value: float) -> str:
    return f"{value:g}"


def _range_check(value: float, lo: float | None, hi: float | None, clamp: bool) -> float:
    if lo is not None and value < lo:
        if clamp:
            return lo
        if hi is not None:
            raise ValueProblem(
                f"{_number_text(value)} is not between {_number_text(lo)} and {_number_text(hi)}"
            )
        raise ValueProblem(f"{_number_text(value)} is below the minimum {_number_text(lo)}")
    if hi is not None and value > hi:
        if clamp:
            return hi
        if lo is not None:
            raise ValueProblem(
                f"{_number_text(value)} is not between {_number_text(lo)} and {_number_text(hi)}"
            )
        raise ValueProblem(f"{_number_text(value)} is above the maximum {_number_text(hi)}")
    return value


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueProblem(f"{value!r} is not a whole number")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        raise ValueProblem(f"{str(value)!r} is not a whole number") from None


def _to_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueProblem(f"{str(value)!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueProblem(f"{str(value)!r} is not a finite number")
    return number


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueProblem(f"{str(value)!r} is not yes or no (use true/false, yes/no, 1/0 or on/off)")


def _choice_converter(choices: Sequence[object], case_sensitive: bool) -> Convert:
    def fold(text: str) -> str:
        return text if case_sensitive else text.casefold()

    by_text = {fold(_choice_text(c)): c for c in choices}
    listed = ", ".join(_choice_text(c) for c in choices)

    def convert(value: object) -> object:
        if any(value is c for c in choices):
            return value
        found = by_text.get(fold(_choice_text(value)))
        if found is None:
            raise ValueProblem(f"{_choice_text(value)!r} is not one of {listed}")
        return found

    return convert


def _path_converter(annotation: type[PurePath], param: _TyperParameter) -> Convert:
    info = param.type_descriptor.parameter_info
    checks = (
        info.exists
        or info.writable
        or info.resolve_path
        or info.allow_dash
        or not info.file_okay
        or not info.dir_okay
    )

    def convert(value: object) -> object:
        path = value if isinstance(value, annotation) else annotation(os.fspath(str(value)))
        if not checks:
            return path
        path_text = str(path)
        if info.resolve_path:
            path = annotation(os.path.realpath(path_text))
        try:
            st = os.stat(path_text)  # noqa: PTH116 - also for PurePath types
        except OSError:
            if info.exists:
                raise ValueProblem(f"{path_text} does not exist") from None
            return path
        import stat

        if not info.file_okay and stat.S_ISREG(st.st_mode):
            raise ValueProblem(f"{path_text} is a file, not a folder")
        if not info.dir_okay and stat.S_ISDIR(st.st_mode):
            raise ValueProblem(f"{path_text} is a folder, not a file")
        if info.readable and not os.access(path_text, os.R_OK):
            raise ValueProblem(f"{path_text} cannot be read (permission denied)")
        if info.writable and not os.access(path_text, os.W_OK):
            raise ValueProblem(f"{path_text} cannot be written (permission denied)")
        return path

    return convert


def _bounds(param: _TyperParameter) -> tuple[float | None, float | None]:
    """The ``min`` and ``max`` a number parameter was declared with."""
    info = param.type_descriptor.parameter_info
    lo: float | None = info.min
    hi: float | None = info.max
    if isinstance(param, TyperOption | TyperArgument):
        lo = param.min if param.min is not None else lo
        hi = param.max if param.max is not None else hi
    return lo, hi


def _converter(param: _TyperParameter) -> Convert | None:
    """Our converter of one value of ``param``, or None for a kind Typer must handle."""
    desc = param.type_descriptor
    info = desc.parameter_info
    if info.parser is not None or getattr(info, "click_type", None) is not None:
        return None
    element = _element(desc.annotation)
    lo, hi = _bounds(param)
    kind = _kind(desc.annotation)
    if kind == "str":
        return lambda value: value if isinstance(value, str) else str(value)
    if kind == "bool":
        return _to_bool
    if kind == "int":
        return lambda value: int(_range_check(_to_int(value), lo, hi, bool(info.clamp)))
    if kind == "float":
        return lambda value: _range_check(_to_float(value), lo, hi, bool(info.clamp))
    if kind == "path":
        return _path_converter(cast("type[PurePath]", element), param)
    if kind == "choice":
        choices = _choices(element)
        assert choices is not None
        return _choice_converter(choices, info.case_sensitive)
    return None


@dataclass(frozen=True)
class PlainValues(RuntimeParam):
    """Typer's conversion step for one parameter, done by one of our converters."""

    convert: Convert

    def _coerce_value(self, value: object, param: _TyperParameter, ctx: click.Context) -> object:
        try:
            if param.multiple or param.nargs != 1:
                items: Sequence[object] = (
                    cast("Sequence[object]", value) if isinstance(value, list | tuple) else [value]
                )
                return [self.convert(v) for v in items]
            return self.convert(value)
        except ValueProblem as exc:
            raise click_exceptions.BadParameter(str(exc), ctx=ctx, param=param) from None


def use_plain_values(param: click.Parameter) -> None:
    """Let ``param`` convert its values with our converters (no pydantic), when it is of a kind
    they handle; other parameters keep Typer's conversion."""
    if not isinstance(param, _TyperParameter) or param._runtime_param is not None:  # pyright: ignore[reportPrivateUsage]
        return
    convert = _converter(param)
    if convert is None:
        return
    desc = param.type_descriptor
    param._runtime_param = PlainValues(  # pyright: ignore[reportPrivateUsage]
        parameter_info=desc.parameter_info, annotation=desc.annotation, convert=convert
    )


# --- usage errors as one line --------------------------------------------------------------------


def _lower_first(text: str) -> str:
    text = text.strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def usage_error_text(exc: click.ClickException) -> str:
    """A usage error of Click's as one line without ``error:``, naming the flag as typed."""
    if isinstance(exc, click_exceptions.MissingParameter):
        param = exc.param
        if param is None:
            return _lower_first(exc.format_message())
        if isinstance(param, TyperOption):
            what = f"{flag_name(param)} {placeholder(param)}"
            text = f"missing option {what}"
        else:
            text = f"missing argument {placeholder(param)}"
        names = choice_names(param)
        return text + (f" (one of {', '.join(names)})" if names else "")
    if isinstance(exc, click_exceptions.BadParameter):
        if exc.param is not None:
            return f"{flag_name(exc.param)}: {_lower_first(exc.message)}"
        if exc.param_hint is not None:
            hint = exc.param_hint
            hint_text = hint if isinstance(hint, str) else " / ".join(hint)
            return f"{hint_text}: {_lower_first(exc.message)}"
        return _lower_first(exc.message)
    if isinstance(exc, click_exceptions.NoSuchOption):
        text = _lower_first(exc.message)
        if exc.possibilities:
            text += f" (did you mean {', '.join(sorted(exc.possibilities))}?)"
        return text
    if isinstance(exc, click_exceptions.UsageError):
        return _lower_first(exc.message)
    return _lower_first(exc.format_message())
