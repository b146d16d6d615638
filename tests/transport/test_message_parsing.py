"""Parsing the server's messages answer: compact JSON arrays, and bad answers survived."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iotcs_hw.messaging import MessageType
from iotcs_hw.transport.http_messages import parse_messages

REQUEST = {
    "id": "r1",
    "clientId": "c1",
    "source": "server",
    "destination": "0-AB",
    "priority": "HIGHEST",
    "reliability": "BEST_EFFORT",
    "eventTime": 1,
    "type": "REQUEST",
    "payload": {"method": "PUT", "url": "deviceModels/urn:x/attributes/a", "body": "e30="},
}


def test_compact_array_of_requests() -> None:
    body = json.dumps([REQUEST, {**REQUEST, "id": "r2"}], separators=(",", ":")).encode()
    messages = parse_messages(body)
    assert [(m.id, m.type) for m in messages] == [
        ("r1", MessageType.REQUEST),
        ("r2", MessageType.REQUEST),
    ]


@pytest.mark.parametrize("body", [b"", b"  ", b"[]"])
def test_empty_answers(body: bytes) -> None:
    assert parse_messages(body) == []


@pytest.mark.parametrize(
    ("body", "logged"),
    [
        (b"not json", "not JSON"),
        (b'{"a": 1}', "dict instead of a JSON array"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_bad_bodies_are_logged_and_ignored(
    body: bytes, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert parse_messages(body, "https://h/messages") == []
    assert logged in caplog.text
    assert "https://h/messages" in caplog.text


def test_a_bad_element_is_skipped_and_the_rest_kept(caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps([{"type": "NOPE"}, REQUEST]).encode()
    with caplog.at_level(logging.WARNING):
        messages = parse_messages(body)
    assert [m.id for m in messages] == ["r1"]
    assert "message [0] skipped" in caplog.text


@given(st.binary(max_size=300))
def test_never_raises_on_arbitrary_bytes(body: bytes) -> None:
    parse_messages(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(st.lists(_json, max_size=4))
def test_never_raises_on_arbitrary_json_arrays(items: list[object]) -> None:
    parse_messages(json.dumps(items).encode())
