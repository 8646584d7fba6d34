"""``/docs`` works with no network, and the OpenAPI document declares the bearer scheme."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.docker


def test_swagger_ui_is_served_by_the_daemon_itself(daemon) -> None:
    http = daemon.http()
    page = http.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    for source in sources:
        assert source.startswith("/docs/assets/"), f"{source} is not served by the daemon"
        asset = http.get(source)
        assert asset.status_code == 200 and len(asset.content) > 0, source
    assert "cdn" not in page.text.lower()


def test_the_openapi_document_declares_bearer_authentication(daemon) -> None:
    document = daemon.http().get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    programs = document["paths"]["/v1/programs"]["get"]
    assert programs.get("security"), "the routes under /v1 name the bearer scheme"
