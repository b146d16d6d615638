"""Property: any JSON batch is either stored whole (valid envelopes) or refused with a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcs_hw.cloud.context import ApiError, CloudContext, ServerConfig
from iotcs_hw.cloud.messages_api import _validate_batch
from iotcs_hw.cloud.storage import DeviceRecord
from iotcs_hw.messaging.message import Message

from .conftest import MODELS_DIR, THERMOSTAT

ENDPOINT = "0-EP"

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)

FIELDS = ("type", "source", "eventTime", "priority", "reliability", "payload", "clientId")
field_values = {
    "type": st.sampled_from(["DATA", "ALERT", "RESPONSE", "REQUEST", "RESOURCES_REPORT", "X"])
    | json_leaf,
    "source": st.sampled_from([ENDPOINT, "", "0-OTHER"]) | json_leaf,
    "eventTime": st.integers(0, 2**45) | json_leaf,
    "priority": st.sampled_from(["LOW", "HIGHEST", "nope"]) | json_leaf,
    "reliability": st.sampled_from(["BEST_EFFORT", "x"]) | json_leaf,
    "clientId": st.text(max_size=5) | json_leaf,
    "payload": st.fixed_dictionaries(
        {},
        optional={
            "format": st.sampled_from([f"{THERMOSTAT}:attributes", "urn:x"]) | json_leaf,
            "data": st.dictionaries(
                st.sampled_from(["temperature", "setpoint", "mode", "holidayUntil", "zzz"]),
                json_leaf,
                max_size=3,
            )
            | json_value,
            "statusCode": st.integers(0, 700) | json_leaf,
            "requestId": st.text(max_size=4) | json_leaf,
            "body": st.sampled_from(["", "T0s=", "!!"]) | json_leaf,
            "severity": st.sampled_from(["LOW", "CRITICAL", "BAD"]) | json_leaf,
        },
    )
    | json_value,
}
envelope = st.fixed_dictionaries({}, optional={k: field_values[k] for k in FIELDS})
batch = st.lists(envelope | json_value, max_size=4)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudContext]:
    path = tmp_path_factory.mktemp("prop")
    context = CloudContext(ServerConfig(data_dir=path, models_dir=MODELS_DIR))
    context.store.add_device(DeviceRecord("A", "s", "REGISTERED"))
    yield context
    context.close()


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch)
def test_batches_are_stored_whole_or_refused_with_4xx(ctx: CloudContext, items: list[Any]) -> None:
    poster = DeviceRecord("A", "s", "ACTIVATED", endpoint_id=ENDPOINT, models=(THERMOSTAT,))
    try:
        stored, responses = _validate_batch(ctx, poster, json.loads(json.dumps(items)))
    except ApiError as exc:
        assert 400 <= exc.status < 500
        assert exc.message.startswith("message [")
        return
    assert len(stored) == len(items)
    for row in stored:
        parsed = Message.from_json(json.loads(row.text))
        assert parsed.source == ENDPOINT
    assert len(responses) == sum(1 for r in stored if r.type == "RESPONSE")


def test_property_covers_both_outcomes(ctx: CloudContext, tmp_path: Path) -> None:
    """A sanity anchor: one valid and one invalid batch, so the property is not vacuous."""
    poster = DeviceRecord("A", "s", "ACTIVATED", endpoint_id=ENDPOINT, models=(THERMOSTAT,))
    ok = [{"type": "DATA", "payload": {"format": f"{THERMOSTAT}:attributes", "data": {}}}]
    stored, _ = _validate_batch(ctx, poster, ok)
    assert len(stored) == 1
    with pytest.raises(ApiError):
        _validate_batch(ctx, poster, [{"type": "DATA", "payload": {}}])
