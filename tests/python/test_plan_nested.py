"""Nested property specs (`array` with `items`, `object` with `properties`) and `source_names`:
the plan check, and staging's validation and PII rules inside, worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import build, message, query, write_lines
from event_analytics.plan import breaking_changes, lint, read_plan

T = "2026-10-01T10:00:00Z"


def unshared(plan: dict[str, Any]) -> dict[str, Any]:
    """A copy without the YAML anchors' sharing, so an edit reaches one event only."""
    return json.loads(json.dumps(plan))


def problems(plan: dict[str, Any], previous: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    return {(p.where, p.message) for p in lint(plan, previous)}


def test_the_default_plan_maps_the_segment_ecommerce_names() -> None:
    plan = read_plan()
    assert problems(plan) == set()
    sent = {name: event for event, spec in plan["events"].items() for name in spec.get("source_names") or []}
    assert sent["Order Completed"] == "order_completed"
    assert sent["Product Added to Wishlist"] == "product_added_to_wishlist"
    products = plan["events"]["order_completed"]["properties"]["products"]
    assert products["type"] == "array" and products["items"]["properties"]["price"]["type"] == "number"


def test_source_names_claimed_twice_or_equal_to_an_event_name_are_reported() -> None:
    plan = unshared(read_plan())
    events = plan["events"]
    events["checkout_started"]["source_names"] = ["Checkout Started", "Order Completed", "product_added"]
    events["cart_viewed"]["source_names"] = ["Cart Viewed", "Cart Viewed"]
    events["cart_shared"]["source_names"] = "Cart Shared"
    # checkout_started comes first in the file, so order_completed is the one told it shares a name
    assert problems(plan) == {
        ("order_completed", "source name 'Order Completed' also claimed by checkout_started"),
        ("checkout_started", "source name 'product_added' is the name of event product_added"),
        ("cart_viewed", "source name 'Cart Viewed' listed twice"),
        ("cart_shared", "source_names must be a list of non-empty strings"),
    }


def test_nested_specs_are_linted_by_their_path() -> None:
    plan = unshared(read_plan())
    product = plan["events"]["cart_viewed"]["properties"]["products"]["items"]["properties"]
    product["email"] = {"type": "string", "pii": False}
    product["price"] = {"type": "money", "pii": False}
    plan["events"]["cart_viewed"]["properties"]["cart_id"]["items"] = {"type": "string"}
    assert problems(plan) == {
        (
            "cart_viewed.properties.products[].email",
            "name suggests personal data: mark it pii: true, or pii: false with a pii_note",
        ),
        ("cart_viewed.properties.products[].price", "type 'money' is not one of " + type_list()),
        ("cart_viewed.properties.cart_id", "items is only for type array"),
    }


def type_list() -> str:
    from event_analytics.plan import TYPES

    return ", ".join(sorted(TYPES))


def test_retyping_a_nested_field_is_breaking_without_a_model_bump() -> None:
    previous = read_plan()
    plan = unshared(previous)
    event = plan["events"]["cart_viewed"]
    event["properties"]["products"]["items"]["properties"]["price"] = {"type": "string", "pii": False}
    assert breaking_changes(previous, plan)[0].message == (
        "breaking change without a MODEL bump: properties.products[].price retyped number -> string"
    )
    event["version"] = "2-0-0"
    assert breaking_changes(previous, plan) == []


def order(message_id: str, products: Any, **extra: Any) -> dict[str, Any]:
    properties = {"order_id": "o-1", "revenue": 30, "products": products}
    return message(message_id, T, event="Order Completed", anonymous_id="a1", properties=properties, **extra)


NESTED_CASES = [
    # every product field declared and clean: passes as sent
    order("clean", [{"product_id": "p-1", "sku": "45790-32", "price": 19, "quantity": 1}]),
    # a price that is text, an element that is not an object, a product without product_id (optional)
    order("bad", [{"product_id": "p-1", "price": "19"}, 3, {"price": 5}]),
    # an undeclared key inside a product, and personal data in free text and in a URL's query
    order(
        "pii",
        [
            {
                "product_id": "p-2",
                "name": "Gift for jane@example.com",
                "url": "https://shop.example/p/2?email=jane%40example.com&ref=x",
                "buyer_email": "jane@example.com",
            }
        ],
    ),
    order("not-array", {"product_id": "p-3"}),
]


def test_nested_values_are_checked_by_path_in_enforce_mode(workdir: Path) -> None:
    write_lines(workdir / "landing" / "a.jsonl", NESTED_CASES)
    warehouse = workdir / "w.duckdb"
    build(workdir / "landing", warehouse)
    rejected = dict(query(warehouse, "select line_number, violations from quarantine.rejected_events"))
    assert rejected == {
        # one label per path, however many elements break it
        2: "properties.products[]: expected object; properties.products[].price: expected number",
        4: "properties.products: expected array",
    }
    kept = dict(query(warehouse, "select event_id, properties::varchar from marts.fct_events"))
    assert set(kept) == {"clean", "pii"}
    assert json.loads(kept["clean"]) == NESTED_CASES[0]["properties"]


def test_nested_values_are_rebuilt_by_the_pii_rules(workdir: Path) -> None:
    write_lines(workdir / "landing" / "a.jsonl", NESTED_CASES)
    warehouse = workdir / "w.duckdb"
    build(workdir / "landing", warehouse, tracking_plan_mode="flag")
    kept = {
        row[0]: (row[1], row[2], json.loads(row[3]))
        for row in query(
            warehouse, "select event_id, event_name, source_event_name, properties::varchar from marts.fct_events"
        )
    }
    assert kept["clean"] == ("order_completed", "Order Completed", NESTED_CASES[0]["properties"])
    # the text price and the non-object element are dropped (positions kept); product_id stays optional
    assert kept["bad"][2]["products"] == [{"product_id": "p-1"}, None, {"price": 5}]
    # the undeclared key is left out, free text redacted, the personal query parameter removed
    assert kept["pii"][2]["products"] == [
        {"product_id": "p-2", "name": "Gift for [email]", "url": "https://shop.example/p/2?ref=x"}
    ]
    assert "products" not in kept["not-array"][2]
    assert "jane" not in json.dumps(kept)
