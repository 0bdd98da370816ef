"""Names: control and bidi characters refused naming the code point; one Unicode spelling."""

from __future__ import annotations

import re

import pytest

from service.names import display_name, first_invisible
from tests.asgi_client import AppClient
from tests.factories import registration

DECOMPOSED, COMPOSED = "cafe\u0301", "caf\u00e9"


@pytest.mark.parametrize(
    ("character", "shown"),
    [
        ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("\u200f", "U+200F (RIGHT-TO-LEFT MARK)"),
        ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
        ("\x7f", "U+007F (a control character)"),
        ("\x85", "U+0085 (a control character)"),
        ("\n", "U+000A (a control character)"),
    ],
)
def test_every_control_and_format_character_is_found(character: str, shown: str) -> None:
    assert first_invisible(f"income{character}x") == shown
    with pytest.raises(ValueError, match=re.escape(shown)):
        display_name(f"ops{character}")


def test_visible_names_pass_and_are_stored_in_nfc() -> None:
    assert first_invisible("Überweisung – 北京 ✓") is None
    assert display_name(DECOMPOSED) == COMPOSED


def test_a_feature_or_attribute_with_a_bidi_control_is_refused_naming_it(client: AppClient) -> None:
    features = [{"name": "income\u202e", "type": "numeric"}]
    response = client.post("/v1/models", json=registration(features=features))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "features[0].name" and "U+202E" in error["message"]
    response = client.post("/v1/models", json=registration(protected_attributes=["sex", "age\u2069"]))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "protected_attributes[1]" and "U+2069" in error["message"]
    assert client.get("/v1/models").json() == {"models": []}


def test_key_names_are_nfc_and_refuse_invisible_characters(client: AppClient) -> None:
    refused = client.post("/v1/keys", json={"role": "read", "name": "ops\u200e"})
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["field"] == "name" and "U+200E" in error["message"]
    created = client.post("/v1/keys", json={"role": "read", "name": DECOMPOSED})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == COMPOSED
    names = [key["name"] for key in client.get("/v1/keys").json()["keys"]]
    assert names == [COMPOSED]


def test_webhook_descriptions_refuse_invisible_characters(client: AppClient) -> None:
    body = {"url": "http://127.0.0.1:9/hook", "events": ["alert.firing"], "description": "on\u202ecall"}
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "description" and "U+202E" in error["message"]
    assert client.get("/v1/webhooks").json()["endpoints"] == []
