"""The typed API client the console uses is generated from the current API (commit it when stale)."""

from __future__ import annotations

from stack import web_build


def test_generated_client_is_current() -> None:
    """web/src/api/schema.d.ts equals what openapi-typescript makes of today's OpenAPI document."""
    assert web_build.SCHEMA_FILE.is_file(), web_build.STALE_CLIENT_MESSAGE
    assert web_build.SCHEMA_FILE.read_text() == web_build.generated_client(), web_build.STALE_CLIENT_MESSAGE


def test_every_api_path_is_in_the_client() -> None:
    """Each path of the OpenAPI document appears in the committed client (a cheap cross-check)."""
    text = web_build.SCHEMA_FILE.read_text()
    paths = web_build.openapi_document()["paths"]
    missing = [p for p in paths if f'"{p}":' not in text]
    assert not missing, f"{web_build.STALE_CLIENT_MESSAGE}: {missing[:5]}"
