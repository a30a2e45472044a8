"""Every value a person sends is bounded and storable, for every route, now and later.

Walks the application's route table: each request body model (and every model reachable from it)
and each query/path/header/form parameter. A text field must be `schemas.text.Text` (rejects what
Postgres cannot store) with a `max_length`; a list, set or dict must have a `max_length`; a
datetime or date must be `schemas.moments.Moment`/`Day` (within two years from now). A route
or field added without these fails here, naming itself.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Union, cast, get_args, get_origin

import annotated_types
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from temporalio.client import Client

from api.app import create_app
from db.pool import Pool
from schemas.moments import DAY_WITHIN, WITHIN
from schemas.text import STORABLE, Text

_COLLECTIONS = (list, set, frozenset, tuple, dict)


def _app() -> FastAPI:
    # Building the app only registers routes: no pool or Temporal connection is used.
    return create_app(pool=cast(Pool, None), temporal_client=cast(Client, None))


def _has_max_length(metadata: list[Any]) -> bool:
    for item in metadata:
        if isinstance(item, FieldInfo):     # Annotated[..., Field(max_length=...)] inside a type
            if _has_max_length(list(item.metadata)):
                return True
        elif isinstance(item, annotated_types.MaxLen) or getattr(item, "max_length", None) is not None:
            return True
    return False


def _problems(where: str, annotation: Any, metadata: list[Any], seen: set[type]) -> Iterator[str]:
    """What is unbounded or not storable in a value of this annotation (metadata: its constraints)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        yield from _problems(where, inner, [*metadata, *extra], seen)
        return
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            if arg is not type(None):
                yield from _problems(where, arg, metadata, seen)
        return
    if annotation in (date, datetime):
        if not any(item is WITHIN or item is DAY_WITHIN for item in metadata):
            yield f"{where}: {annotation.__name__}, not schemas.moments.Moment/Day"
        return
    if annotation is str:
        if not any(item is STORABLE for item in metadata):
            yield f"{where}: str, not schemas.text.Text"
        if not _has_max_length(metadata):
            yield f"{where}: text without max_length"
        return
    if origin in _COLLECTIONS or annotation in _COLLECTIONS:
        if origin is tuple and get_args(annotation) and get_args(annotation)[-1] is not Ellipsis:
            pass   # a fixed-size tuple is bounded by its type
        elif not _has_max_length(metadata):
            yield f"{where}: {getattr(origin, '__name__', origin)} without max_length"
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from _problems(f"{where}[]", arg, [], seen)
        return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            yield from _problems(f"{annotation.__name__}.{name}", field.annotation, list(field.metadata), seen)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as wrappers)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from api_routes(router.routes)


def request_problems_of(app_routes: list[Any]) -> list[str]:
    problems: list[str] = []
    seen: set[type] = set()
    for route in api_routes(app_routes):
        if not route.include_in_schema:
            continue   # the console's static pages (api/web.py): a file name, no database
        dependant = route.dependant
        params = [*dependant.path_params, *dependant.query_params, *dependant.header_params, *dependant.cookie_params,
                  *dependant.body_params]
        stack = list(dependant.dependencies)
        while stack:
            sub = stack.pop()
            params += [*sub.path_params, *sub.query_params, *sub.header_params, *sub.cookie_params, *sub.body_params]
            stack += sub.dependencies
        for param in params:
            info = param.field_info
            where = f"{sorted(route.methods or ())[0]} {route.path} {param.name}"
            annotation = info.annotation
            for problem in _problems(where, annotation, list(info.metadata), seen):
                problems.append(problem if problem.startswith(where) else f"{where} -> {problem}")
    return sorted(set(problems))


def test_every_request_text_is_storable_and_every_value_bounded() -> None:
    app = _app()
    assert len(list(api_routes(app.routes))) > 100, "the route table was not walked"
    problems = request_problems_of(app.routes)
    assert problems == [], "\n".join(problems)


class Inner(BaseModel):
    note: str = Field(max_length=10)


class Body(BaseModel):
    when: datetime
    name: Text
    tags: list[Annotated[Text, Field(max_length=5)]]
    inner: Inner


def test_the_walker_sees_a_plain_str_and_an_unbounded_list() -> None:
    """The check can fail: a route with a plain str, an unbounded Text and an unbounded list."""
    app = FastAPI()

    @app.post("/x")
    async def post_x(body: Body, q: str | None = None) -> None:
        return None

    assert request_problems_of(app.routes) == [
        "POST /x body -> Body.name: text without max_length",
        "POST /x body -> Body.tags: list without max_length",
        "POST /x body -> Body.when: datetime, not schemas.moments.Moment/Day",
        "POST /x body -> Inner.note: str, not schemas.text.Text",
        "POST /x q: str, not schemas.text.Text",
        "POST /x q: text without max_length",
    ]
