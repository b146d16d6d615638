"""Connections that can be cut from another thread, so ``close()`` is bounded.

A long poll blocks its thread in a socket read for up to ``iot.timeout`` seconds, and neither
``requests`` nor ``urllib3`` can interrupt a read in progress: closing a session only drops the
*idle* connections of its pools.  :class:`AbortableAdapter` registers every connection it opens
in a :class:`ConnectionRegistry`; :meth:`ConnectionRegistry.abort_all` shuts their sockets down,
which makes a blocked read return at once (``requests`` then raises ``ConnectionError``, which
the session translates into ``TransportException``).

Connections through an HTTP proxy are not tracked (``requests`` builds those pools itself); a
close then waits for the poll to end, as before.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import Any

from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.poolmanager import PoolManager


class ConnectionRegistry:
    """The live connections of one session. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: weakref.WeakSet[HTTPConnection] = weakref.WeakSet()
        self._aborted = False
        self.https_class = self._tracked(HTTPSConnection)
        self.http_class = self._tracked(HTTPConnection)

    def _tracked(self, base: type[HTTPConnection]) -> type[HTTPConnection]:
        registry = self

        class Tracked(base):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                super().connect()
                registry.add(self)

        Tracked.__name__ = Tracked.__qualname__ = f"Abortable{base.__name__}"
        return Tracked

    def __len__(self) -> int:
        """How many connections are tracked (open or not yet collected)."""
        with self._lock:
            return len(self._connections)

    def add(self, connection: HTTPConnection) -> None:
        """Track ``connection``; one opened after :meth:`abort_all` is cut at once."""
        with self._lock:
            self._connections.add(connection)
            aborted = self._aborted
        if aborted:
            _shutdown(connection)

    def abort_all(self) -> int:
        """Shut down every tracked socket (blocked reads return); returns how many."""
        with self._lock:
            self._aborted = True
            connections = list(self._connections)
        for connection in connections:
            _shutdown(connection)
        return len(connections)


def _shutdown(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class _TrackingPoolManager(PoolManager):
    def __init__(self, registry: ConnectionRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry = registry

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        registry = self._registry
        pool.ConnectionCls = registry.https_class if scheme == "https" else registry.http_class
        return pool


class AbortableAdapter(HTTPAdapter):
    """A ``requests`` transport adapter whose direct connections ``registry`` can cut."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        self.registry = registry
        super().__init__()

    def init_poolmanager(
        self,
        connections: int,
        maxsize: int,
        block: bool = DEFAULT_POOLBLOCK,
        **pool_kwargs: Any,
    ) -> None:
        """As ``HTTPAdapter``'s, with a pool manager that tracks connections."""
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _TrackingPoolManager(
            self.registry, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )
