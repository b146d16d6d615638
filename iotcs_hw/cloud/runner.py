"""Run the local server: in a background thread (tests, ``run --simulate``) or in the foreground.

:class:`LocalCloud` follows requests' test ``Server``: it binds 127.0.0.1 port 0 by default,
starts its own event loop in a named thread, sets a ready event, exposes ``(host, port)``, the
URL and the CA path, records requests for assertions and stops within a bounded time.

>>> with LocalCloud(tmp_path) as cloud:                    # doctest: +SKIP
...     requests.get(cloud.url + "/iot/api/v2/deviceModels/x", verify=cloud.ca_path)

The data directory also receives ``server.json`` (URL, pid) while the server runs, which is how
``iotcs-hw cloud write|messages|provision`` find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from iotcs_hw.cloud.app import make_app
from iotcs_hw.cloud.app_client import AppClient
from iotcs_hw.cloud.context import SERVER_INFO, CloudContext, ServerConfig
from iotcs_hw.cloud.provisioning import provision_device
from iotcs_hw.cloud.support import FaultSwitch, Recorder
from iotcs_hw.errors import ConfigError, DeviceClosed

#: How long a shutdown waits for handlers (held long polls are cancelled after this).
SHUTDOWN_GRACE_S = 0.5


class LocalCloud:
    """One local IoTCS-compatible server on its own event-loop thread.

    Keyword arguments other than ``config`` override :class:`ServerConfig` fields (``port=0``
    is the default here, unlike the command line).  Not restartable: make a new instance on the
    same data directory to simulate a server restart.
    """

    def __init__(
        self, data_dir: Path | str, *, config: ServerConfig | None = None, **overrides: Any
    ) -> None:
        if config is None:
            overrides.setdefault("port", 0)
            config = ServerConfig(data_dir=Path(data_dir), **overrides)
        elif overrides:
            raise TypeError("pass either config or field overrides, not both")
        self.config = config
        self.context = CloudContext(config)
        self.ready = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_request: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._port: int | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self.ready.is_set() else "new")
        where = f" {self.url}" if self._port is not None else ""
        return f"<LocalCloud {state}{where} data={self.config.data_dir}>"

    # -- facts --------------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the server listens on (after :meth:`start`)."""
        if self._port is None:
            raise DeviceClosed("LocalCloud is not started")
        return self.config.host, self._port

    @property
    def url(self) -> str:
        """``https://host:port``."""
        host, port = self.address
        return f"https://{host}:{port}"

    @property
    def ca_path(self) -> Path:
        """The CA certificate (PEM) clients must trust."""
        return self.context.tls.ca_cert

    @property
    def faults(self) -> FaultSwitch:
        """The 503 switch for message POSTs."""
        return self.context.faults

    @property
    def recorder(self) -> Recorder:
        """Every answered request (method, path, query, headers, body, status)."""
        return self.context.recorder

    def wait_for_held_poll(self, endpoint_id: str, timeout_s: float = 5.0) -> bool:
        """Block until a long poll of ``endpoint_id`` (a device or gateway) is being held."""
        return self.context.wait_for_held_poll(endpoint_id, timeout_s)

    def app_client(self, *, timeout_s: float = 10.0) -> AppClient:
        """A client of the application API of this server."""
        return AppClient(self.url, self.context.admin_token, self.ca_path, timeout_s=timeout_s)

    def provision(
        self, device_id: str, out: Path | str, password: str, *, force: bool = False
    ) -> dict[str, Any]:
        """Register ``device_id`` (or reuse it) and write its store to ``out`` (0600).

        What ``iotcs-hw run --simulate`` needs before it opens the device; returns the device
        view (``activationId``, ``state``...).
        """
        with self.app_client() as client:
            return provision_device(client, device_id, Path(out), password, force=force)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> LocalCloud:
        """Start serving; returns once listening. Raises ConfigError if it cannot listen."""
        if self._closed:
            raise DeviceClosed("LocalCloud is closed")
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="iotcs-cloud-server", daemon=True)
        self._thread.start()
        if not self.ready.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"local cloud did not start within {timeout_s} s")
        if self._error is not None:
            self._thread.join(timeout_s)
            self._closed = True
            self.context.close()
            raise ConfigError(
                f"cannot serve on {self.config.host}:{self.config.port}: {self._error}"
            ) from self._error
        self._write_info()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and close the database; idempotent. Raises if the thread hangs."""
        if self._closed:
            return
        self._closed = True
        loop, stop = self._loop, self._stop_request
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TimeoutError(f"local cloud thread did not stop within {timeout_s} s")
        self._remove_info()
        self.context.close()

    def wait_stopped(self, timeout_s: float | None = None) -> bool:
        """Block until the server thread has finished; True if it has."""
        return self._stopped.wait(timeout_s)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._error = exc
            self.ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            self._stopped.set()

    async def _serve(self) -> None:
        self._stop_request = asyncio.Event()
        runner = web.AppRunner(
            make_app(self.context),
            handle_signals=False,
            access_log=logging.getLogger("iotcs_hw.cloud.access"),
            shutdown_timeout=SHUTDOWN_GRACE_S,
        )
        await runner.setup()
        try:
            site = web.TCPSite(
                runner,
                self.config.host,
                self.config.port,
                ssl_context=self.context.tls.server_context(),
                reuse_address=True,
            )
            await site.start()
            addresses = runner.addresses
            self._port = int(addresses[0][1])
            self.ready.set()
            await self._stop_request.wait()
            self.context.begin_shutdown()
            await asyncio.sleep(0)  # let released polls write their answers
        finally:
            await runner.cleanup()

    def _write_info(self) -> None:
        info = {
            "url": self.url,
            "host": self.address[0],
            "port": self.address[1],
            "pid": os.getpid(),
        }
        path = self.config.data_dir / SERVER_INFO
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    def _remove_info(self) -> None:
        path = self.config.data_dir / SERVER_INFO
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if info.get("pid") == os.getpid() and info.get("port") == self._port:
            path.unlink(missing_ok=True)
