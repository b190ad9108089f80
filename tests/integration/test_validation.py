"""``@validated`` handlers (docs/guide/validation.md), driven by real clients.

A handler annotated with a pydantic model or a msgspec struct gets the converted object; an event whose
arguments do not convert never reaches it: the client that asked for an acknowledgement gets the documented
error, and a refusal without one is logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Annotated, Any

import msgspec
import pytest
import socketio
from jsclient import run_js_scenario
from pydantic import BaseModel, Field, RootModel

import aiosocketio
from aiosocketio.validation import refusals, validated

FACTOR = float(os.environ.get("AIOSOCKETIO_TEST_TIMEOUT_FACTOR", "1") or "1")


class Point(BaseModel):
    x: int
    y: int


class Order(msgspec.Struct):
    item: str
    quantity: int


class Short(RootModel[Annotated[str, Field(max_length=5)]]):
    pass


calls: list[Any] = []


@validated
async def move(point: Point, label: str = "") -> Any:
    calls.append(point)
    return {"x": point.x * 2, "y": point.y * 2, "label": label}


@validated
def order(first: Order, *more: Order) -> Any:
    calls.append((first, *more))
    return [o.quantity for o in (first, *more)]


@validated
def chat(message: Short) -> str:
    calls.append(message)
    return f"got {message.root}"


def make_server() -> aiosocketio.Server:
    io = aiosocketio.Server()

    @io.on("connection")
    def on_connection(socket: aiosocketio.Socket) -> None:
        socket.on("move", move)
        socket.on("order", order)
        socket.on("chat", chat)

    return io


@pytest.fixture
async def client() -> Any:
    io = make_server()
    running = await io.listen(port=0)
    client = socketio.AsyncClient(reconnection=False)
    calls.clear()
    await client.connect(
        f"http://127.0.0.1:{running.port}", transports=["websocket"], wait_timeout=5 * FACTOR
    )
    try:
        yield client
    finally:
        await client.disconnect()
        await running.close()


async def test_valid_arguments_reach_the_handler_converted(client: Any) -> None:
    assert await client.call("move", ({"x": 1, "y": "2"}, "a"), timeout=5 * FACTOR) == {
        "x": 2,
        "y": 4,
        "label": "a",
    }
    assert calls == [Point(x=1, y=2)]
    answer = await client.call("order", ({"item": "tea", "quantity": 2}, {"item": "cake", "quantity": 1}))
    assert answer == [2, 1]
    assert calls[1] == (Order("tea", 2), Order("cake", 1))


async def test_invalid_arguments_get_the_error_acknowledgement(client: Any) -> None:
    answer = await client.call("move", {"x": "one"}, timeout=5 * FACTOR)
    assert answer == {
        "error": "invalid arguments",
        "details": [
            {
                "argument": 0,
                "path": "x",
                "message": "Input should be a valid integer, unable to parse string as an integer",
            },
            {"argument": 0, "path": "y", "message": "Field required"},
        ],
    }
    answer = await client.call("order", ({"item": "tea", "quantity": 1}, {"item": "tea", "quantity": "2"}))
    assert answer == {
        "error": "invalid arguments",
        "details": [{"argument": 1, "path": "quantity", "message": "Expected `int`, got `str`"}],
    }
    assert await client.call("move", timeout=5 * FACTOR) == {
        "error": "invalid arguments",
        "details": [{"argument": None, "path": "", "message": "takes 1 to 2 arguments, got 0"}],
    }
    assert calls == []


async def test_a_refusal_without_acknowledgement_is_logged_and_counted(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    before = refusals["move"]
    with caplog.at_level(logging.WARNING, logger="aiosocketio"):
        await client.emit("move", {"x": 1, "y": []})
        # The next event (answered) comes after the refused one: the refusal has been handled by then.
        assert await client.call("move", {"x": 1, "y": 1}, timeout=5 * FACTOR) == {
            "x": 2,
            "y": 2,
            "label": "",
        }
    assert refusals["move"] == before + 1
    assert calls == [Point(x=1, y=1)]
    assert [r.getMessage() for r in caplog.records if r.name == "aiosocketio"] == [
        "the handler move refused an event: argument 0 at y: Input should be a valid integer"
    ]


def test_a_handler_without_models_is_left_as_it_is() -> None:
    def plain(message: str, *rest: Any) -> None: ...

    assert validated(plain) is plain


def test_models_the_annotations_cannot_find_are_refused_at_once() -> None:
    class Local(BaseModel):
        name: str

    def handler(value: Local) -> None: ...

    handler.__annotations__ = {"value": "Missing"}
    with pytest.raises(TypeError, match=r"@validated cannot read the annotations of .*handler"):
        validated(handler)


@pytest.mark.node
@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_the_javascript_client_gets_the_error_acknowledgement(transport: str) -> None:
    io = make_server()
    running = await io.listen(port=0)
    url = f"http://127.0.0.1:{running.port}"
    try:
        ok = await run_js_scenario("chat_client.mjs", url, transport, "hi")
        assert [e["args"] for e in ok if e["event"] == "ack"] == [["got hi"]]
        refused = await run_js_scenario("chat_client.mjs", url, transport, "too long")
        assert [e["args"] for e in refused if e["event"] == "ack"] == [
            [
                {
                    "error": "invalid arguments",
                    "details": [
                        {"argument": 0, "path": "", "message": "String should have at most 5 characters"}
                    ],
                }
            ]
        ]
    finally:
        await running.close()
        await asyncio.sleep(0)
