"""The gateway's OpenAPI description is a valid OpenAPI document, describes
exactly the routes the aiohttp app serves, generates its request bodies from
the pydantic models, and gives every error answer the JSON error body."""

from __future__ import annotations

import copy
import json
import re

import pytest
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from orderflow.gateway import requests
from orderflow.gateway.app import create_gateway
from orderflow.gateway.context import CONTEXT
from orderflow.gateway.openapi import document, serve
from orderflow.settings import Settings
from orderflow.tables.validation import IDENT_PATTERN

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def normalised(path: str) -> str:
    """``/a/{order_id}/b`` and ``/a/{orderId}/b`` are the same route."""
    return re.sub(r"{[^}]+}", "{}", path)


def operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(method, path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if method in METHODS]


@pytest.fixture(scope="module")
def app():
    return create_gateway(Settings(bootstrap_servers="127.0.0.1:1", auth_shared_secret="s" * 32))


def test_the_description_is_a_valid_openapi_document() -> None:
    validate(document())


def test_the_validator_would_notice_a_broken_description() -> None:
    broken = copy.deepcopy(document())
    broken["paths"]["/api/v1/orders"]["post"]["responses"] = {"202": {"content": {}}}  # no description
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_route_of_the_app_is_described_and_nothing_else(app) -> None:
    # aiohttp adds a HEAD route for every GET; the description leaves those implicit.
    served = {(r.method.lower(), normalised(r.resource.canonical)) for r in app.router.routes()
              if r.method != "HEAD"}
    described = {(method, normalised(path)) for method, path, _ in operations(document())}
    assert served == described
    assert len(operations(document())) == len(described)  # no route described twice


def test_request_bodies_are_the_pydantic_models() -> None:
    doc = document()
    bodies = {op["operationId"]: op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
              for _, _, op in operations(doc) if "requestBody" in op}
    assert bodies == {
        "placeOrder": "#/components/schemas/PlaceOrderRequest",
        "cancelOrder": "#/components/schemas/CancelOrderRequest",
        "recordShipment": "#/components/schemas/ShipmentRequest",
        "refundPayment": "#/components/schemas/RefundRequest",
        "changeOrder": "#/components/schemas/ChangeOrderRequest",
        "createCustomer": "#/components/schemas/CustomerRequest",
        "updateCustomer": "#/components/schemas/CustomerUpdateRequest",
        "adjustInventory": "#/components/schemas/InventoryAdjustmentRequest",
        "setPrice": "#/components/schemas/PriceRequest",
    }
    schemas = doc["components"]["schemas"]
    place = requests.PlaceOrderRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["PlaceOrderRequest"] == {k: v for k, v in place.items() if k != "$defs"}
    assert schemas["OrderLineRequest"] == place["$defs"]["OrderLineRequest"]
    assert schemas["InventoryAdjustmentRequest"]["properties"]["type"]["enum"] == ["restock", "adjust", "set",
                                                                                   "threshold"]
    assert schemas["CustomerUpdateRequest"]["minProperties"] == 1


def test_every_reference_resolves() -> None:
    doc = document()
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs and refs <= set(doc["components"]["schemas"])


def test_path_ids_carry_the_ident_pattern() -> None:
    for _, path, op in operations(document()):
        names = re.findall(r"{(\w+)}", path)
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
        assert set(names) == set(params), path
        for param in params.values():
            assert param["required"] is True
            assert param["schema"] == {"type": "string", "minLength": 1, "maxLength": 64, "pattern": IDENT_PATTERN,
                                       "not": {"enum": [".", ".."]}}


def test_every_error_answer_is_the_json_error_body() -> None:
    error = document()["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    assert set(error["properties"]) == {"error", "message", "fields"}
    for _, path, op in operations(document()):
        assert "default" in op["responses"], path
        for status, answer in op["responses"].items():
            if status == "default" or (int(status) >= 400 and op["operationId"] != "readyz"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, \
                    (path, status)


def test_the_long_poll_cap_follows_the_settings() -> None:
    op = document(12.5)["paths"]["/api/v1/orders/{orderId}"]["get"]
    timeout = next(p for p in op["parameters"] if p["name"] == "timeout")
    assert timeout["schema"]["maximum"] == 12.5


async def test_the_route_serves_the_description(app) -> None:
    response = await serve(make_mocked_request("GET", "/openapi.json", app=app))
    assert response.status == 200
    assert response.content_type == "application/json"
    assert json.loads(response.body) == document(app[CONTEXT].settings.long_poll_max_s)


def test_the_description_declares_the_bearer_scheme_and_who_may_call_each_operation() -> None:
    doc = document()
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        **doc["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer",
        "bearerFormat": "JWT"}
    assert doc["security"] == [{"bearerAuth": []}]
    for method, path, op in operations(doc):
        if path.startswith("/api/v1/"):
            assert op["security"] and "bearerAuth" in op["security"][0], (method, path)
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            assert op["description"].startswith("Who may call:")
        else:
            assert op["security"] == [], (method, path)  # health, readiness, metrics, this description
    admin = doc["paths"]["/api/v1/products/{productId}/price"]["post"]
    assert admin["security"] == [{"bearerAuth": ["operator"]}]
    assert "another customer" in doc["paths"]["/api/v1/orders/{orderId}"]["get"]["responses"]["404"]["description"]
