"""Configuration and shared state of one local-server instance, and the HTTP error helpers.

:class:`ServerConfig` holds every tunable with its default; :class:`CloudContext` is what the
request handlers share (store, model registry, tokens, wake-ups, fault switch, recorder).
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from iotcs_hw.cloud.models import ModelRegistry, parse_model
from iotcs_hw.cloud.storage import CloudStore, SqliteCloudStore
from iotcs_hw.cloud.support import Broadcast, Clock, FaultSwitch, Recorder, SystemClock, TokenBook
from iotcs_hw.cloud.tls import TlsFiles, ensure_tls
from iotcs_hw.errors import DeviceModelError

#: File names inside the data directory.
DATABASE = "cloud.sqlite"
ADMIN_TOKEN = "admin.token"
SERVER_INFO = "server.json"

#: The repository's device models, the default registry.
REPO_MODELS = Path(__file__).resolve().parents[2] / "device_models"


@dataclass
class ServerConfig:
    """How a local server runs. Times in seconds, sizes in bytes.

    ``port`` 0 picks a free port (tests); ``models_dir`` None loads the repository's
    ``device_models/`` when it exists.  ``clock`` is injected in tests that replay Oracle's
    vectors (their ``exp`` lies in the past).
    """

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8443
    models_dir: Path | None = None
    clock: Clock = field(default_factory=SystemClock)
    #: Hold of an ``iot.sync`` poll without ``iot.timeout``, and the most any poll is held.
    default_hold_s: float = 10.0
    max_hold_s: float = 60.0
    #: A REQUEST handed out without a RESPONSE is offered again after this long.
    redeliver_after_s: float = 30.0
    #: Bearer token lifetime; ``expires_in`` is sent in milliseconds (what Java expects).
    token_lifetime_s: float = 3600.0
    storage_token_lifetime_s: float = 1800.0
    #: Key size the activation policy asks for.
    activation_key_size: int = 2048
    max_body_bytes: int = 4 * 1024 * 1024
    max_message_bytes: int = 256 * 1024
    max_object_bytes: int = 64 * 1024 * 1024
    #: Swift account and container of the object store.
    storage_account: str = "AUTH_iotcs"
    storage_container: str = "iotcs"
    #: Messages kept in the database; the oldest are dropped beyond this (0 keeps all).
    max_stored_messages: int = 1_000_000
    #: SQLite ``synchronous``: NORMAL survives a server crash, FULL also a power cut (slower).
    sqlite_synchronous: str = "NORMAL"


class ApiError(Exception):
    """An error answer: status, a message for the JSON body and optional extra fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def json_response(
    obj: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Compact JSON (Java's client splits arrays by counting braces)."""
    return web.Response(
        body=json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8"),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_body(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON of an error answer (``status``, ``title``, ``detail`` plus extras)."""
    titles = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        405: "Method Not Allowed",
        409: "Conflict",
        413: "Payload Too Large",
        415: "Unsupported Media Type",
        503: "Service Unavailable",
    }
    body: dict[str, Any] = {
        "status": status,
        "title": titles.get(status, "Error"),
        "detail": message,
    }
    body.update(extra)
    return body


class CloudContext:
    """The state one server instance shares between its handlers (event-loop thread)."""

    def __init__(self, config: ServerConfig, *, store: CloudStore | None = None) -> None:
        self.config = config
        self.clock = config.clock
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.tls: TlsFiles = ensure_tls(config.data_dir, _hosts(config.host))
        models_dir = config.models_dir
        if models_dir is None and REPO_MODELS.is_dir():
            models_dir = REPO_MODELS
        # Everything that can fail on bad input comes before the database is opened.
        self.registry = ModelRegistry.from_directory(models_dir)
        self.admin_token = _admin_token(config.data_dir / ADMIN_TOKEN)
        self.store: CloudStore = store or SqliteCloudStore(
            config.data_dir / DATABASE,
            max_messages=config.max_stored_messages,
            synchronous=config.sqlite_synchronous,
        )
        for doc in self.store.model_documents():
            try:
                self.registry.add(parse_model(doc, "stored model"))
            except DeviceModelError:
                continue
        self.tokens = TokenBook(config.clock, config.token_lifetime_s)
        self.storage_tokens = TokenBook(config.clock, config.storage_token_lifetime_s)
        self.faults = FaultSwitch(config.clock)
        self.recorder = Recorder()
        self.messages_changed = Broadcast()
        self.responses_changed = Broadcast()
        self._request_wakeups: dict[str, Broadcast] = {}
        #: Set when the server stops: held polls answer at once instead of waiting.
        self.closing = False
        self._held = threading.Condition()
        self._held_polls: dict[str, int] = {}

    def poll_held(self, owner: str, delta: int) -> None:
        """Count long polls of ``owner`` being held (+1 when one starts waiting, -1 after)."""
        with self._held:
            self._held_polls[owner] = self._held_polls.get(owner, 0) + delta
            self._held.notify_all()

    def wait_for_held_poll(self, owner: str, timeout_s: float) -> bool:
        """Block (any thread) until a long poll of ``owner`` is held; False on timeout."""
        with self._held:
            return self._held.wait_for(lambda: self._held_polls.get(owner, 0) > 0, timeout_s)

    def begin_shutdown(self) -> None:
        """Release every held long poll (they answer ``200 []``) before the server stops."""
        self.closing = True
        for wakeup in self._request_wakeups.values():
            wakeup.notify()
        self.messages_changed.notify()
        self.responses_changed.notify()

    def requests_for(self, owner: str) -> Broadcast:
        """The wake-up of the device (or gateway) ``owner`` polling for requests."""
        found = self._request_wakeups.get(owner)
        if found is None:
            found = self._request_wakeups[owner] = Broadcast()
        return found

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def _hosts(host: str) -> tuple[str, ...]:
    if host in ("0.0.0.0", "::", ""):
        return ("localhost", "127.0.0.1")
    return (host,)


def _admin_token(path: Path) -> str:
    """The admin token of this data directory, created 0600 on first use."""
    if path.exists():
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(token + "\n", encoding="ascii")
    return token
