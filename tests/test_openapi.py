"""/openapi.json says what the API really does: the error answers of every operation in the one
error shape, which routes need a token, and value formats the API really sends."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from api.app import create_app
from api.errors import ErrorBody
from schemas.campaign import LadderStep, ReminderPolicy

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("POST", "/resident/needs"),
          ("POST", "/resident/rating"), ("GET", "/certificates/{number}"),
          # the residents' pages: what a code opens, a need's follow link, a community's board
          ("POST", "/resident/need-code/open"), ("POST", "/resident/rating-code/open"),
          ("POST", "/resident/need-follow"), ("GET", "/resident/board/{community_id}"),
          # signing in and out: before a session exists, or ending one (the cookie is checked inside)
          ("POST", "/auth/login"), ("POST", "/auth/otp/request"), ("POST", "/auth/otp/login"),
          ("POST", "/auth/password/setup"), ("POST", "/auth/logout")}


def _spec() -> dict[str, Any]:
    return create_app(pool=None, temporal_client=None).openapi()  # type: ignore[arg-type]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]


def test_every_protected_operation_documents_its_error_answers_in_the_error_shape() -> None:
    """401/403 on every route that needs a token (and only those), 404/422 on every route with input,
    409 on every POST, 429 on the braked public routes; every error body is ErrorBody."""
    spec = _spec()
    ref = "#/components/schemas/ErrorBody"
    assert set(spec["components"]["schemas"]["ErrorBody"]["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for method, path, op in _operations(spec):
        codes = set(op["responses"])
        secured = bool(op.get("security"))
        assert secured == ((method, path) not in PUBLIC), (method, path)
        if secured:
            assert {"401", "403"} <= codes, (method, path)
        if op.get("parameters") or "requestBody" in op:
            assert "422" in codes, (method, path)
        if method == "POST":
            assert "409" in codes, (method, path)
        for code in codes - {"200", "201", "202", "204"}:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert ref in str(schema), (method, path, code)
    assert "429" in spec["paths"]["/resident/needs"]["post"]["responses"]
    assert "429" in spec["paths"]["/certificates/{number}"]["get"]["responses"]


def test_a_ladder_steps_offset_is_declared_as_the_signed_duration_the_api_sends() -> None:
    """LadderStep.offset: no `format: duration` (which has no sign); its pattern matches what the API
    sends for every default step, negative ones included, and what it sends parses back."""
    spec = _spec()
    offset = spec["components"]["schemas"]["LadderStep"]["properties"]["offset"]
    assert offset.get("format") != "duration" and offset["type"] == "string"
    pattern = re.compile(offset["pattern"])
    sent = [step.model_dump(mode="json")["offset"] for step in ReminderPolicy().steps]
    assert "-P3D" in sent
    extra = TypeAdapter(timedelta).dump_python(timedelta(days=1, seconds=1.5), mode="json")
    for value in [*sent, extra]:
        assert pattern.match(value), value
        LadderStep.model_validate({"step": "remind", "offset": value})
    assert not pattern.match("P") and not pattern.match("PT")
    formats = re.findall(r"'format': '(\w+)'", str(spec))
    assert "duration" not in formats


def test_the_error_body_model_is_what_the_handlers_send() -> None:
    """The documented error model accepts a validation answer's shape (code, message, errors)."""
    ErrorBody.model_validate({"code": "invalid_input", "message": "输入无效",
                              "errors": [{"loc": ["body", "x"], "type": "missing", "msg": "Field required"}]})
