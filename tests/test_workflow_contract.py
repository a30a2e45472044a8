"""The API's models and the workflows' contract are apart: no model class (nested ones included)
is both part of an HTTP request body and part of a workflow's, update's, signal's or activity's
input, so a change to an API body can never change what a saved history holds. Services map
between the two (services/dispatch.py, services/whistle.py, services/campaign.py)."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel
from temporalio import workflow

from activities import (
    campaign,
    delivery,
    dispatch,
    evaluation,
    registration,
    service_record,
    unit_transfer,
    whistle,
)
from api.app import create_app
from workers.registry import all_workflows


def _models(tp: Any, seen: set[type[BaseModel]]) -> None:
    """Every pydantic model in annotation `tp`, recursively through fields, lists and unions."""
    for arg in typing.get_args(tp):
        _models(arg, seen)
    if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in seen:
        seen.add(tp)
        for field in tp.model_fields.values():
            _models(field.annotation, seen)


def _inputs(fn: Callable[..., Any]) -> Iterator[Any]:
    hints = typing.get_type_hints(fn)
    return (tp for name, tp in hints.items() if name != "return")


def _workflow_inputs() -> set[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for cls in all_workflows():
        defn = workflow._Definition.must_from_class(cls)
        fns = [defn.run_fn, *(u.fn for u in defn.updates.values()), *(s.fn for s in defn.signals.values())]
        for fn in fns:
            for tp in _inputs(fn):
                _models(tp, found)
    for module in (campaign, delivery, dispatch, evaluation, registration, service_record, unit_transfer, whistle):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            for _, fn in inspect.getmembers(cls, inspect.isfunction):
                if hasattr(fn, "__temporal_activity_definition"):
                    for tp in _inputs(fn):
                        _models(tp, found)
    return found


def _body_names() -> set[str]:
    """The component names of every request body of /openapi.json, and of what they contain."""
    spec = create_app(pool=None, temporal_client=None).openapi()  # type: ignore[arg-type]  # no I/O needed
    components = spec["components"]["schemas"]
    names: set[str] = set()

    def follow(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.split("/")[-1] not in names:
                names.add(ref.split("/")[-1])
                follow(components[ref.split("/")[-1]])
            for value in node.values():
                follow(value)
        elif isinstance(node, list):
            for value in node:
                follow(value)

    for operations in spec["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                follow(operation["requestBody"])
    return names


def test_no_model_is_both_an_api_body_and_a_workflow_input() -> None:
    inputs = _workflow_inputs()
    bodies = _body_names()
    assert len(inputs) > 50 and len(bodies) > 40   # both sides were found
    shared = sorted(f"{m.__module__}.{m.__name__}" for m in inputs if m.__name__ in bodies)
    assert shared == []
