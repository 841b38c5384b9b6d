"""Form decoding: urlencoded bodies into msgspec structs, with a message per bad field.

Litestar could decode forms itself, but its validation errors are JSON; here each failure becomes
a message shown beside the field, and repeated fields (a classic parser-confusion trick) are refused.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

import msgspec
from litestar import Request

StructT = TypeVar("StructT", bound=msgspec.Struct)

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
IGNORED_FIELDS = frozenset({"_csrf_token"})


class FormInvalid(Exception):
    """The form is malformed; ``errors`` maps field names to messages for people."""

    def __init__(self, errors: dict[str, str], *, status: int = 422) -> None:
        super().__init__("invalid form")
        self.errors = errors
        self.status = status


async def read_form(request: Request, struct: type[StructT], messages: dict[str, str]) -> StructT:
    """Decode the request body into ``struct``; ``messages`` gives each field's human message."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_CONTENT_TYPES:
        raise FormInvalid({"_form": "Send the form as a web form."}, status=415)
    form = await request.form()
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    optional = _optional_fields(struct)
    for name in struct.__struct_fields__:
        given = form.getall(name) if name in form else []
        if not given and name in optional:
            continue
        if len(given) != 1 or not isinstance(given[0], str):
            errors[name] = messages[name]
            continue
        values[name] = given[0]
    if errors:
        raise FormInvalid(errors)
    try:
        return msgspec.convert(values, struct)
    except msgspec.ValidationError as exc:
        field = _field_of(exc, struct)
        raise FormInvalid({field: messages.get(field, "This value is not valid.")}) from None


@cache
def _optional_fields(struct: type[msgspec.Struct]) -> frozenset[str]:
    """Fields with a default may be left out (an unticked checkbox, a PIN box shown only sometimes).

    Cached: msgspec.structs.fields() evaluates the annotations anew on every call.
    """
    return frozenset(field.name for field in msgspec.structs.fields(struct) if not field.required)


def _field_of(exc: msgspec.ValidationError, struct: type[msgspec.Struct]) -> str:
    # msgspec says "... - at `$.fieldname`"; fall back to the form as a whole.
    text = str(exc)
    for name in struct.__struct_fields__:
        if f"$.{name}`" in text:
            return name
    return "_form"
