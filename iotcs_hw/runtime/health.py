"""The local health endpoint: readiness, live status and Prometheus metrics over HTTP.

Served by :class:`http.server.ThreadingHTTPServer` on a named thread, bound to 127.0.0.1 by
default (exposing it beyond the Pi is a deliberate choice in the model file).  Routes:

=============  ===============================================================================
``/healthz``   200 ``ok`` while the process serves requests (liveness)
``/readyz``    200 when buses and the model are up and the runtime is not stopping, else 503
``/status``    JSON: readiness, cloud contact, outbox depth, every sensor (last value, last
               error, read counts, backoff), every actuator, every sampling group
``/metrics``   Prometheus text format
=============  ===============================================================================
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from iotcs_hw.runtime import metrics
from iotcs_hw.runtime.status import HealthRegistry

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _HealthHTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        registry = self.server.registry
        path = self.path.split("?", 1)[0]
        try:
            if path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/readyz":
                if registry.ready:
                    self._send(200, "text/plain; charset=utf-8", b"ready\n")
                else:
                    reason = registry.not_ready_reason or "not ready"
                    self._send(503, "text/plain; charset=utf-8", f"{reason}\n".encode())
            elif path == "/status":
                body = json.dumps(registry.to_json(), indent=2, default=str).encode()
                self._send(200, "application/json", body)
            elif path == "/metrics":
                self._send(200, metrics.CONTENT_TYPE, metrics.render(registry).encode())
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
        except Exception:
            log.exception("health endpoint failed on %s", path)
            self._send(500, "text/plain; charset=utf-8", b"internal error\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("health %s - %s", self.address_string(), format % args)


class _HealthHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: HealthRegistry) -> None:
        self.registry = registry
        super().__init__(address, _Handler)


class HealthServer:
    """Serves ``registry`` on ``host:port`` (port 0 picks a free one) from a named thread.

    >>> with HealthServer(HealthRegistry(), port=0) as server:  # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:54321
    """

    def __init__(self, registry: HealthRegistry, *, host: str = "127.0.0.1", port: int = 0):
        self.registry = registry
        self._server = _HealthHTTPServer((host, port), registry)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="health-http",
            daemon=True,
        )
        self._started = False

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """``http://host:port``."""
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> HealthServer:
        """Start serving; returns self."""
        self._thread.start()
        self._started = True
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop serving and join the thread (bounded). Idempotent."""
        if self._started:
            self._server.shutdown()
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise RuntimeError(f"health-http thread did not stop within {timeout_s} s")
            self._started = False
        self._server.server_close()

    def __enter__(self) -> HealthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<HealthServer {self.url} running={self._started}>"
