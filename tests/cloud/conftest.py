"""Fixtures for the local server tests: a running server on loopback and a wire-level device.

``WireDevice`` speaks IoTCS REST v2 with ``requests`` exactly as the protocol pages describe
(no client library in between), so these tests exercise the server and nothing else.  Its
assertions and activation bodies come from the shared :mod:`iotcs_hw.protocol` package.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.runner import LocalCloud
from iotcs_hw.protocol.activation import DirectActivationRequest
from iotcs_hw.protocol.jwt import (
    build_hs256_assertion,
    build_rs256_assertion,
    token_request_body,
)

MODELS_DIR = Path(__file__).parent / "models"
THERMOSTAT = "urn:test:iotcs-hw:thermostat"
ACTIVATION_SCOPE = "oracle/iot/activation"


@pytest.fixture(scope="session")
def device_key() -> rsa.RSAPrivateKey:
    """One 1024-bit device key for every activation (the size is the device's choice)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture
def data_dir(cloud_dir: Path) -> Path:
    """The server data directory (``tests/conftest.py``), named as the server's ``--data``."""
    return cloud_dir


@pytest.fixture
def cloud(data_dir: Path) -> Iterator[LocalCloud]:
    """A running server with the test models, short holds and redelivery."""
    with LocalCloud(
        data_dir, models_dir=MODELS_DIR, default_hold_s=5.0, redeliver_after_s=30.0
    ) as server:
        yield server


@pytest.fixture
def app(cloud: LocalCloud) -> Iterator[AppClient]:
    """The application-side client of ``cloud``."""
    with cloud.app_client() as client:
        yield client


class WireDevice:
    """A device made of ``requests`` calls: token, activation, messages."""

    def __init__(
        self,
        cloud: LocalCloud,
        activation_id: str,
        secret: str,
        key: rsa.RSAPrivateKey,
    ) -> None:
        self.cloud = cloud
        self.activation_id = activation_id
        self.secret = secret
        self.key = key
        self.endpoint_id: str | None = None
        self.token: str | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.verify = str(cloud.ca_path)

    def url(self, path: str) -> str:
        """Absolute URL of a server path."""
        return self.cloud.url + path

    def assertion(self) -> str:
        """HS256 before activation, RS256 after, ``exp`` from the server's clock."""
        exp = int(self.cloud.config.clock.time()) + 600
        if self.endpoint_id is None:
            return build_hs256_assertion(self.activation_id, self.secret.encode(), exp=exp)
        return build_rs256_assertion(self.endpoint_id, self.key, exp=exp)

    def fetch_token(self, scope: str | None = None) -> requests.Response:
        """POST the token form; stores the token on success."""
        if scope is None:
            scope = ACTIVATION_SCOPE if self.endpoint_id is None else ""
        response = self.session.post(
            self.url("/iot/api/v2/oauth2/token"),
            data=token_request_body(self.assertion(), scope),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response

    def headers(self) -> dict[str, str]:
        """Bearer and id headers of a device call."""
        out = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if self.endpoint_id is None:
            out["X-ActivationId"] = self.activation_id
        else:
            out["X-EndpointId"] = self.endpoint_id
        return out

    def activate(self, *urns: str) -> str:
        """The whole direct activation; returns the endpoint id and takes an endpoint token."""
        assert self.fetch_token().status_code == 200
        policy = self.session.get(
            self.url("/iot/api/v2/activation/policy?OSName=Linux&OSVersion=6.1"),
            headers=self.headers(),
            timeout=10,
        )
        assert policy.status_code == 200, policy.text
        body = DirectActivationRequest.create(
            self.activation_id, self.secret.encode(), self.key, urns
        ).to_json()
        answer = self.session.post(
            self.url("/iot/api/v2/activation/direct?createDraft=false"),
            json=body,
            headers=self.headers(),
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        self.endpoint_id = answer.json()["endpointId"]
        assert self.fetch_token().status_code == 200
        return self.endpoint_id

    def post(
        self,
        messages: Any = None,
        *,
        params: str = "acceptBytes=4190",
        data: bytes | None = None,
        timeout: float = 15,
    ) -> requests.Response:
        """POST /messages with a JSON batch (or raw ``data``)."""
        body = data if data is not None else json.dumps(messages or []).encode()
        headers = self.headers() | {"Content-Type": "application/json"}
        return self.session.post(
            self.url(f"/iot/api/v2/messages?{params}"), data=body, headers=headers, timeout=timeout
        )

    def data(self, values: dict[str, Any], *, urn: str = THERMOSTAT) -> dict[str, Any]:
        """A DATA envelope from this device."""
        return {
            "clientId": f"c-{time.monotonic_ns()}",
            "source": self.endpoint_id,
            "destination": "",
            "priority": "MEDIUM",
            "reliability": "BEST_EFFORT",
            "eventTime": int(time.time() * 1000),
            "type": "DATA",
            "payload": {"format": f"{urn}:attributes", "data": values},
        }

    def response_to(
        self, request: dict[str, Any], status: int = 200, body: str = "T0s="
    ) -> dict[str, Any]:
        """A RESPONSE envelope answering ``request``."""
        return {
            "clientId": f"r-{time.monotonic_ns()}",
            "source": request["destination"],
            "destination": request["source"],
            "priority": "HIGH",
            "reliability": "BEST_EFFORT",
            "eventTime": int(time.time() * 1000),
            "type": "RESPONSE",
            "payload": {
                "statusCode": status,
                "url": "",
                "requestId": request["id"],
                "headers": {},
                "body": body,
            },
        }

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


@pytest.fixture
def make_device(cloud: LocalCloud, app: AppClient, device_key: rsa.RSAPrivateKey) -> Iterator[Any]:
    """Register a device on ``cloud`` and return a :class:`WireDevice` for it."""
    made: list[WireDevice] = []

    def make(activation_id: str | None = None, secret: str = "s3cret-value") -> WireDevice:
        reg = app.register_device(activation_id, secret)
        device = WireDevice(cloud, reg["activationId"], secret, device_key)
        made.append(device)
        return device

    yield make
    for device in made:
        device.close()


@pytest.fixture
def thermostat(make_device: Any) -> WireDevice:
    """An activated device implementing the test thermostat model."""
    device: WireDevice = make_device("THERMO-1")
    device.activate(THERMOSTAT)
    return device
