"""How a handler takes its payload, read from its signature, and the checks both ways.

Three shapes, after `ctx`:

- `payload` (a dict, or unannotated): the payload as is; callers give its keys as keyword
  arguments (or one dict).
- one parameter annotated with a pydantic model: the payload validated into the model; callers
  give the model, or its fields as keyword arguments.
- anything else, e.g. `(ctx, to: str, subject: str = "hi")`: the payload's keys are the
  handler's keyword arguments; a model built from the signature checks them.

Submitting through a task (`send_email.job(to=...)`) checks the arguments before anything is
sent; the worker checks the payload again before calling the handler (a payload submitted over
HTTP may be anything).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from dtq.errors import InvalidPayloadError


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors()
    )


@dataclass(frozen=True, slots=True)
class PayloadShape:
    """How one handler takes its payload."""

    kind: str  # "dict", "model" or "kwargs"
    model: type[BaseModel] | None = None

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> PayloadShape:
        """The shape of a handler `fn(ctx, ...)`."""
        params = list(inspect.signature(fn).parameters.values())[1:]
        try:
            hints = typing.get_type_hints(fn)
        except (NameError, TypeError):  # an annotation that cannot be resolved: take the dict
            hints = {}
        if len(params) == 1 and params[0].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            hint = hints.get(params[0].name, Any)
            if _is_model(hint):
                return cls("model", hint)
            origin = typing.get_origin(hint) or hint
            if hint is Any or origin in (dict, Mapping) or params[0].name == "payload":
                return cls("dict")
        fields: dict[str, Any] = {}
        for p in params:
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            default = ... if p.default is inspect.Parameter.empty else p.default
            fields[p.name] = (hints.get(p.name, Any), default)
        model = create_model(
            f"{getattr(fn, '__name__', 'handler')}_payload",
            __config__=ConfigDict(extra="forbid"),
            **fields,
        )
        return cls("kwargs", model)

    def payload(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The JSON payload of a call with these arguments; InvalidPayloadError if they do not
        fit the handler."""
        if self.kind == "dict":
            if args and (len(args) > 1 or not isinstance(args[0], Mapping) or kwargs):
                raise InvalidPayloadError("give the payload as one dict, or as keyword arguments")
            return dict(args[0]) if args else dict(kwargs)
        assert self.model is not None
        if self.kind == "model" and args:
            if len(args) > 1 or kwargs or not isinstance(args[0], self.model):
                raise InvalidPayloadError(f"give one {self.model.__name__}, or its fields")
            return args[0].model_dump(mode="json")
        if args:
            raise InvalidPayloadError("give the handler's arguments by name")
        try:
            return self.model.model_validate(kwargs).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidPayloadError(f"invalid payload: {_problems(exc)}") from None

    def arguments(self, payload: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """What the handler is called with after `ctx`, from a job's payload; InvalidPayloadError
        if the payload does not fit."""
        if self.kind == "dict":
            return (payload,), {}
        assert self.model is not None
        try:
            validated = self.model.model_validate(payload)
        except ValidationError as exc:
            problems = _problems(exc)
            raise InvalidPayloadError(f"the payload does not fit the handler: {problems}") from None
        if self.kind == "model":
            return (validated,), {}
        return (), {name: getattr(validated, name) for name in type(validated).model_fields}
