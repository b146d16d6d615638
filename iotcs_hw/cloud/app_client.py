"""Python client of the local server's application API (``/local/v1/``, see ``admin_api``).

Used by the command line and by cloud-side code (tests, controllers) in another process::

    client = AppClient.from_data_dir(Path(".iotcs-hw/cloud"))
    pending = client.write(endpoint_id, {"maxThreshold": 85})
    answer = client.wait_for_response(pending["requestId"], timeout_s=10)
    answer["statusCode"]   # 200 when the device applied it

Thread-safe as far as ``requests.Session`` is (one client per thread is simplest).  Errors:
:class:`CloudApiError` (the server refused; ``status`` and ``detail``), :class:`WriteRefused`
(a write did not fit the device model), :class:`ServerNotRunning` and
:class:`iotcs_hw.errors.TransportException` (could not talk to the server).
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import requests

from iotcs_hw.errors import ConfigError, IotcsHwError, TransportException

PREFIX = "/local/v1"
SERVER_INFO = "server.json"
ADMIN_TOKEN = "admin.token"
CA_CERT = "ca.pem"
_MISSING: Any = object()


class CloudApiError(IotcsHwError):
    """The local server refused a call; ``status`` is the HTTP status, ``detail`` its reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"server answered {status}: {detail}")
        self.status = status
        self.detail = detail


class WriteRefused(CloudApiError, ValueError):
    """A write or action does not fit the device model; nothing was queued. Not retryable."""


class ServerNotRunning(ConfigError):
    """No server is running for this data directory."""


class ResponseTimeout(IotcsHwError, TimeoutError):
    """The device did not answer a queued request in time (it may still answer later)."""

    def __init__(self, message: str, view: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.view = dict(view)


def describe_message(item: Mapping[str, Any]) -> str:
    """One line for a stored message: seq, time, source, type and what it says."""
    msg = item.get("message", {})
    payload = msg.get("payload", {})
    kind = msg.get("type", "?")
    if kind in ("DATA", "ALERT"):
        values = ", ".join(f"{k}={v!r}" for k, v in (payload.get("data") or {}).items())
        what = f"{payload.get('format', '')} {values}".strip()
        if kind == "ALERT":
            what = f"{payload.get('severity', '')} {what}"
    elif kind == "RESPONSE":
        what = f"{payload.get('statusCode')} to request {payload.get('requestId', '')}"
    else:
        what = json.dumps(payload, separators=(",", ":"))[:120]
    when = datetime.datetime.fromtimestamp(
        int(msg.get("eventTime", 0)) / 1000, datetime.UTC
    ).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{item.get('seq', '?'):>6} {when[:-4]}Z {msg.get('source', '')} {kind} {what}"


class AppClient:
    """Talks to one local server over HTTPS, trusting only its CA."""

    #: Pass as ``value`` for an action without argument (the default).
    NO_ARGUMENT: Any = _MISSING

    def __init__(
        self, url: str, admin_token: str, ca_path: Path | str, *, timeout_s: float = 10.0
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        # Loopback only: no proxies, and no REQUESTS_CA_BUNDLE overriding our CA.
        self._session.trust_env = False
        self._session.verify = str(ca_path)
        self._session.headers["Authorization"] = f"Bearer {admin_token}"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AppClient {self.url}>"

    @classmethod
    def from_data_dir(cls, data_dir: Path | str, *, timeout_s: float = 10.0) -> AppClient:
        """The client of the server running on ``data_dir`` (reads ``server.json``)."""
        base = Path(data_dir)
        info_path = base / SERVER_INFO
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            url = str(info["url"])
        except FileNotFoundError:
            raise ServerNotRunning(
                f"no server is running for {base} ({info_path} is missing); start one with "
                f"'iotcs-hw cloud serve --data {base}'"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServerNotRunning(f"{info_path}: unreadable ({exc})") from None
        try:
            token = (base / ADMIN_TOKEN).read_text(encoding="ascii").strip()
        except OSError as exc:
            raise ServerNotRunning(f"{base / ADMIN_TOKEN}: {exc.strerror or exc}") from None
        return cls(url, token, base / CA_CERT, timeout_s=timeout_s)

    def close(self) -> None:
        """Close the HTTP session. Idempotent."""
        self._session.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, Any] | None = None,
        extra_timeout_s: float = 0.0,
        raw: bool = False,
        refusal: type[CloudApiError] = CloudApiError,
    ) -> Any:
        url = f"{self.url}{PREFIX}{path}"
        try:
            response = self._session.request(
                method,
                url,
                json=body,
                params=params,
                timeout=self.timeout_s + extra_timeout_s,
            )
        except requests.RequestException as exc:
            raise TransportException(
                f"cannot reach the local cloud at {self.url}: {exc}", url=url
            ) from exc
        if response.status_code >= 400:
            try:
                detail = str(response.json().get("detail", response.text))
            except ValueError:
                detail = response.text or response.reason
            kind = refusal if response.status_code == 400 else CloudApiError
            raise kind(response.status_code, detail)
        if raw:
            return response.content
        return response.json()

    # -- devices ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """URL, device count, models and fault switch of the server."""
        return dict(self._call("GET", "/status"))

    def register_device(
        self,
        activation_id: str | None = None,
        shared_secret: str | None = None,
        *,
        connected_devices: Mapping[str, str | None] | None = None,
    ) -> dict[str, Any]:
        """Register a device; returns its ``activationId`` and ``sharedSecret`` (made if None)."""
        body: dict[str, Any] = {}
        if activation_id is not None:
            body["activationId"] = activation_id
        if shared_secret is not None:
            body["sharedSecret"] = shared_secret
        if connected_devices:
            body["connectedDevices"] = dict(connected_devices)
        return dict(self._call("POST", "/devices", body=body))

    def devices(self) -> list[dict[str, Any]]:
        """Every registered device."""
        return list(self._call("GET", "/devices")["items"])

    def device(self, ident: str) -> dict[str, Any]:
        """One device by activation or endpoint id."""
        return dict(self._call("GET", f"/devices/{ident}"))

    def provisioning_file(
        self, device_id: str, password: str, *, server_uri: str | None = None
    ) -> bytes:
        """The unified-store bytes for ``device_id``, encrypted with ``password``."""
        body: dict[str, Any] = {"password": password}
        if server_uri is not None:
            body["serverUri"] = server_uri
        return bytes(self._call("POST", f"/devices/{device_id}/provisioning", body=body, raw=True))

    # -- writes -------------------------------------------------------------------------------

    def write(
        self,
        endpoint_id: str,
        values: Mapping[str, object],
        *,
        urn: str | None = None,
        text: bool = False,
    ) -> dict[str, Any]:
        """Queue a write of one or several attributes; raises :class:`WriteRefused` if invalid.

        ``text=True`` reads string values as the attribute's type ("21.5", "true", ISO dates),
        as typed on a command line.
        """
        body: dict[str, Any] = {"attributes": dict(values), "text": text}
        if urn is not None:
            body["urn"] = urn
        return dict(
            self._call("POST", f"/endpoints/{endpoint_id}/writes", body=body, refusal=WriteRefused)
        )

    def call_action(
        self,
        endpoint_id: str,
        action: str,
        value: object = _MISSING,
        *,
        urn: str | None = None,
        text: bool = False,
    ) -> dict[str, Any]:
        """Queue an action call (``value`` omitted for an action without argument)."""
        body: dict[str, Any] = {"text": text}
        if value is not _MISSING:
            body["value"] = value
        if urn is not None:
            body["urn"] = urn
        return dict(
            self._call(
                "POST",
                f"/endpoints/{endpoint_id}/actions/{action}",
                body=body,
                refusal=WriteRefused,
            )
        )

    def send_request(
        self,
        endpoint_id: str,
        method: str,
        url: str,
        body: object = None,
        headers: Mapping[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """Queue a REQUEST without model checks (capability resources)."""
        payload: dict[str, Any] = {"method": method, "url": url, "body": body}
        if headers:
            payload["headers"] = dict(headers)
        return dict(
            self._call(
                "POST", f"/endpoints/{endpoint_id}/requests", body=payload, refusal=WriteRefused
            )
        )

    def request_state(self, request_id: str) -> dict[str, Any]:
        """A queued request now: ``state`` QUEUED, OFFERED or ANSWERED, and the response."""
        return dict(self._call("GET", f"/requests/{request_id}"))

    def wait_for_response(self, request_id: str, timeout_s: float) -> dict[str, Any]:
        """Wait up to ``timeout_s`` for the device's RESPONSE; the request view either way.

        Check ``view["state"] == "ANSWERED"``; then ``statusCode`` and ``bodyText`` hold the
        device's answer.
        """
        return dict(
            self._call(
                "GET",
                f"/requests/{request_id}",
                params={"wait": f"{max(0.0, timeout_s):.3f}"},
                extra_timeout_s=timeout_s,
            )
        )

    def write_and_wait(
        self,
        endpoint_id: str,
        values: Mapping[str, object],
        timeout_s: float,
        *,
        urn: str | None = None,
        text: bool = False,
    ) -> dict[str, Any]:
        """Queue a write and wait for the device's RESPONSE; the answered request view.

        Raises :class:`WriteRefused` before queueing and :class:`ResponseTimeout` when no
        RESPONSE came within ``timeout_s`` (the request stays queued on the server).
        """
        pending = self.write(endpoint_id, values, urn=urn, text=text)
        return self._answered(endpoint_id, pending["requestId"], timeout_s)

    def call_and_wait(
        self,
        endpoint_id: str,
        action: str,
        value: object = _MISSING,
        *,
        timeout_s: float,
        urn: str | None = None,
        text: bool = False,
    ) -> dict[str, Any]:
        """Queue an action call and wait for the RESPONSE (errors as :meth:`write_and_wait`)."""
        pending = self.call_action(endpoint_id, action, value, urn=urn, text=text)
        return self._answered(endpoint_id, pending["requestId"], timeout_s)

    def _answered(self, endpoint_id: str, request_id: str, timeout_s: float) -> dict[str, Any]:
        view = self.wait_for_response(request_id, timeout_s)
        if view["state"] != "ANSWERED":
            raise ResponseTimeout(
                f"no RESPONSE from {endpoint_id} within {timeout_s:g} s; request "
                f"{request_id} is {view['state']} (is the device running?)",
                view,
            )
        return view

    # -- messages -----------------------------------------------------------------------------

    def messages(
        self,
        endpoint_id: str | None = None,
        *,
        after: int = 0,
        limit: int = 1000,
        wait_s: float = 0.0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Messages with sequence number > ``after``; ``(items, last seq)``.

        Each item is ``{"seq", "receivedTime", "message": <envelope>}``.  ``wait_s`` holds the
        call until at least one message exists.
        """
        params: dict[str, Any] = {"after": after, "limit": limit, "wait": f"{wait_s:.3f}"}
        if endpoint_id:
            params["endpoint"] = endpoint_id
        answer = self._call("GET", "/messages", params=params, extra_timeout_s=wait_s)
        return list(answer["items"]), int(answer["last"])

    def follow(
        self,
        endpoint_id: str | None = None,
        *,
        after: int = 0,
        stop: threading.Event | None = None,
        poll_s: float = 20.0,
    ) -> Iterator[dict[str, Any]]:
        """Yield messages as they arrive (a subscription), until ``stop`` is set.

        Long-polls the server, so a new message is yielded as soon as it is stored.
        """
        last = after
        while stop is None or not stop.is_set():
            items, last = self.messages(endpoint_id, after=last, wait_s=poll_s)
            yield from items

    # -- test hooks ---------------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 503) -> dict[str, Any]:
        """Fail the next ``count`` message POSTs."""
        return dict(self._call("POST", "/faults", body={"failNext": count, "status": status}))

    def fail_for(self, seconds: float, status: int = 503) -> dict[str, Any]:
        """Fail message POSTs for ``seconds``."""
        return dict(
            self._call("POST", "/faults", body={"failForSeconds": seconds, "status": status})
        )

    def clear_faults(self) -> dict[str, Any]:
        """Stop failing."""
        return dict(self._call("DELETE", "/faults"))

    def revoke_tokens(self) -> int:
        """Forget all bearer tokens; devices must fetch new ones."""
        return int(self._call("POST", "/tokens/revoke")["revoked"])
