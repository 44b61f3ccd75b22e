"""Request validation that answers exactly like FastAPI + pydantic v2 (PROTOCOL §2).

The reference services are FastAPI apps; clients see their 422 bodies
``{"detail": [{"type", "loc", "msg", "input"[, "ctx"]}]}``. These helpers reproduce the types and
messages for the handful of field kinds the protocol uses, including FastAPI's rule that an empty
form value counts as "not sent".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
FormValue = str | UploadFile

# pydantic v2's lax-mode boolean strings.
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})

T = TypeVar("T")


@dataclass(frozen=True)
class FieldError:
    type: str
    loc: tuple[str | int, ...]
    msg: str
    input: JsonValue
    ctx: dict[str, JsonValue] | None = None

    def to_json(self) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {
            "type": self.type,
            "loc": list(self.loc),
            "msg": self.msg,
            "input": self.input,
        }
        if self.ctx is not None:
            out["ctx"] = self.ctx
        return out


class RequestValidationFailed(Exception):
    """Raised by handlers; turned into a FastAPI-shaped 422 by the app's exception handler."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = list(errors)


def validation_response(errors: Sequence[FieldError]) -> JSONResponse:
    return JSONResponse({"detail": [e.to_json() for e in errors]}, status_code=422)


def missing(loc: tuple[str | int, ...]) -> FieldError:
    return FieldError("missing", loc, "Field required", None)


def parse_bool(raw: str) -> bool | None:
    """FastAPI/pydantic boolean parsing: true/false, 1/0, yes/no, on/off, t/f, y/n (any case)."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def _fmt_number(value: float) -> str:
    # pydantic-core prints numbers the Rust way: 0.0 -> "0", 0.5 -> "0.5".
    return str(int(value)) if float(value).is_integer() else str(value)


def _bound_errors(
    value: float,
    loc: tuple[str | int, ...],
    raw: str,
    *,
    ge: float | None,
    le: float | None,
    gt: float | None,
) -> FieldError | None:
    if gt is not None and not value > gt:
        return FieldError(
            "greater_than", loc, f"Input should be greater than {_fmt_number(gt)}", raw, {"gt": gt}
        )
    if ge is not None and not value >= ge:
        return FieldError(
            "greater_than_equal",
            loc,
            f"Input should be greater than or equal to {_fmt_number(ge)}",
            raw,
            {"ge": ge},
        )
    if le is not None and not value <= le:
        return FieldError(
            "less_than_equal",
            loc,
            f"Input should be less than or equal to {_fmt_number(le)}",
            raw,
            {"le": le},
        )
    return None


class FieldReader:
    """Reads typed fields from form data or query parameters, collecting every error like
    FastAPI."""

    def __init__(self, values: Mapping[str, FormValue], location: str = "body") -> None:
        self._values = values
        self._location = location
        self.errors: list[FieldError] = []

    def loc(self, name: str) -> tuple[str, str]:
        return (self._location, name)

    def _raw(self, name: str) -> FormValue | None:
        value = self._values.get(name)
        # FastAPI treats an empty form string as "not sent" (PROTOCOL §2, B9).
        if isinstance(value, str) and value == "" and self._location == "body":
            return None
        return value

    def _text(self, name: str) -> str | None:
        value = self._raw(name)
        if value is None:
            return None
        if isinstance(value, UploadFile):
            self.errors.append(
                FieldError("string_type", self.loc(name), "Input should be a valid string", None)
            )
            return None
        return value

    def has(self, name: str) -> bool:
        return self._raw(name) is not None

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                self.errors.append(missing(self.loc(name)))
            return None
        return self._text(name)

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        required: bool = False,
        ge: int | None = None,
        le: int | None = None,
        gt: int | None = None,
    ) -> int | None:
        raw = self._text(name)
        if raw is None:
            if required and not self._failed(name):
                self.errors.append(missing(self.loc(name)))
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            value = None
        if value is None:
            self.errors.append(
                FieldError(
                    "int_parsing",
                    self.loc(name),
                    "Input should be a valid integer, unable to parse string as an integer",
                    raw,
                )
            )
            return default
        err = _bound_errors(value, self.loc(name), raw, ge=ge, le=le, gt=gt)
        if err is not None:
            self.errors.append(err)
            return default
        return value

    def number(
        self,
        name: str,
        default: float,
        *,
        ge: float | None = None,
        le: float | None = None,
    ) -> float:
        raw = self._text(name)
        if raw is None:
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if math.isnan(value):
            self.errors.append(
                FieldError(
                    "float_parsing",
                    self.loc(name),
                    "Input should be a valid number, unable to parse string as a number",
                    raw,
                )
            )
            return default
        err = _bound_errors(value, self.loc(name), raw, ge=ge, le=le, gt=None)
        if err is not None:
            self.errors.append(err)
            return default
        return value

    def boolean(self, name: str, default: bool | None, *, required: bool = False) -> bool | None:
        raw = self._text(name)
        if raw is None:
            if required and not self._failed(name):
                self.errors.append(missing(self.loc(name)))
            return default
        value = parse_bool(raw)
        if value is None:
            self.errors.append(
                FieldError(
                    "bool_parsing",
                    self.loc(name),
                    "Input should be a valid boolean, unable to interpret input",
                    raw,
                )
            )
            return default
        return value

    def choice(self, name: str, choices: Sequence[str], *, required: bool) -> str | None:
        raw = self._text(name)
        if raw is None:
            if required and not self._failed(name):
                self.errors.append(missing(self.loc(name)))
            return None
        if raw not in choices:
            quoted = [f"'{c}'" for c in choices]
            expected = (
                ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
            )
            self.errors.append(
                FieldError(
                    "literal_error",
                    self.loc(name),
                    f"Input should be {expected}",
                    raw,
                    {"expected": expected},
                )
            )
            return None
        return raw

    def upload(self, name: str) -> UploadFile | None:
        value = self._values.get(name)
        if value is None:
            self.errors.append(missing(self.loc(name)))
            return None
        if not isinstance(value, UploadFile):
            if value == "":
                self.errors.append(missing(self.loc(name)))
            else:
                self.errors.append(
                    FieldError(
                        "value_error",
                        self.loc(name),
                        f"Value error, Expected UploadFile, received: {type(value)}",
                        value,
                        {"error": {}},
                    )
                )
            return None
        return value

    def add(self, error: FieldError) -> None:
        self.errors.append(error)

    def _failed(self, name: str) -> bool:
        return any(e.loc == self.loc(name) for e in self.errors)

    def raise_if_errors(self) -> None:
        if self.errors:
            raise RequestValidationFailed(self.errors)
