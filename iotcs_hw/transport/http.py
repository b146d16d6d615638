"""The HTTPS session of a device: TLS against the store's anchors, tokens, clock skew, errors.

Every call to the server goes through :meth:`HttpSession.request`, which

* verifies the server against the store's trust anchors only (system CAs when there are none);
* always has a finite timeout (``requests`` would otherwise wait forever);
* sends the headers of protocol §2.6: ``Accept``/``Content-Type: application/json``, the bearer
  token and ``X-EndpointId`` (activated) or ``X-ActivationId`` (not yet);
* fetches a token from ``/oauth2/token`` (§2.2) when it has none or the one it has is about to
  expire, and once more when a call answers 401 before giving up with SecurityException;
* corrects for clock skew when the token endpoint answers 400 with ``currentTime`` (§2.5);
* translates ``requests`` errors exactly once, with ``from``: TLS failures and refused
  credentials become :class:`SecurityException`, everything else
  :class:`TransportException` carrying ``statusCode`` and ``url``.

``requests.Session`` objects are kept per thread (the sender and the long-poll receiver of the
dispatcher call concurrently).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from iotcs_hw.errors import SecurityException, TransportException
from iotcs_hw.protocol.jwt import ACTIVATION_SCOPE, token_request_body
from iotcs_hw.transport.abortable import AbortableAdapter, ConnectionRegistry
from iotcs_hw.transport.trusted_assets import TrustedAssetsManager

log = logging.getLogger(__name__)

API_ROOT = "/iot/api/v2"
TOKEN_PATH = API_ROOT + "/oauth2/token"
DEFAULT_TIMEOUT_S = 15.0
#: Refresh this long before the token's announced expiry (or a tenth of its life if shorter).
TOKEN_REFRESH_MARGIN_S = 60.0


class WallClock(Protocol):
    """The two clocks the session needs; the :mod:`time` module itself is one."""

    def time(self) -> float:
        """Wall-clock epoch seconds (for ``exp`` claims)."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go backwards (for token lifetimes)."""
        ...


@dataclass(frozen=True)
class BearerToken:
    """An access token and the monotonic instant it should be renewed at (None: on 401 only)."""

    header: str
    scope: str
    renew_at: float | None


class HttpSession:
    """One device's connection to the server. Thread-safe.

    Args:
        assets: the device's trusted assets (server URI, identity, keys, trust anchors).
        timeout_s: connect and read timeout of ordinary calls (default 15 s, as Oracle's).
        clock: wall and monotonic time (default the :mod:`time` module).
    """

    def __init__(
        self,
        assets: TrustedAssetsManager,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: WallClock | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.assets = assets
        self.timeout_s = timeout_s
        self.clock: WallClock = clock if clock is not None else time
        self.base_url = assets.server_uri.rstrip("/")
        self._verify = assets.ca_bundle()
        self._local = threading.local()
        self._connections = ConnectionRegistry()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._token: BearerToken | None = None
        self._offset_s = 0.0
        self._closed = False

    # ------------------------------------------------------------------------- time

    @property
    def server_offset_s(self) -> float:
        """Server time minus device time, learnt from the token endpoint (0 until then)."""
        return self._offset_s

    def server_time_s(self) -> float:
        """The device's estimate of the server's wall clock."""
        return self.clock.time() + self._offset_s

    # ------------------------------------------------------------------------- plumbing

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            if self._closed:
                raise TransportException(f"HTTPS session to {self.base_url} is closed")
            session = requests.Session()
            session.verify = self._verify
            # trust_env would let $REQUESTS_CA_BUNDLE replace the store's anchors and pick up
            # netrc credentials; proxies from the environment (honouring no_proxy) still apply.
            session.trust_env = False
            session.proxies.update(requests.utils.get_environ_proxies(self.base_url))
            adapter = AbortableAdapter(self._connections)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began."""
        return self._closed

    @property
    def connection_count(self) -> int:
        """Connections opened by this session and not yet collected (for tests, diagnostics)."""
        return len(self._connections)

    def url(self, path: str) -> str:
        """Absolute URL of a server path (``/iot/api/v2/...``)."""
        return self.base_url + path

    def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | str | Iterator[bytes] | None,
        timeout_s: float,
        stream: bool = False,
    ) -> requests.Response:
        """One unauthenticated HTTP exchange (storage uses it with its own token).

        ``requests`` errors are translated here and nowhere else.
        """
        try:
            return self._session().request(
                method,
                url,
                headers=dict(headers),
                data=body,
                timeout=(min(timeout_s, self.timeout_s), timeout_s),
                allow_redirects=False,
                stream=stream,
            )
        except requests.exceptions.SSLError as exc:
            raise SecurityException(
                f"TLS with {self.base_url} failed (server certificate not trusted by the store's "
                f"trust anchors, or wrong host name): {exc}"
            ) from exc
        except requests.exceptions.Timeout as exc:
            raise TransportException(
                f"{method} {url}: no answer within {timeout_s:g} s", None, url
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise TransportException(f"{method} {url}: {exc}", None, url) from exc

    # ------------------------------------------------------------------------- tokens

    def _scope(self) -> str:
        return "" if self.assets.is_activated() else ACTIVATION_SCOPE

    def _current_token(self) -> BearerToken:
        with self._token_lock:
            token = self._token
            scope = self._scope()
            now = self.clock.monotonic()
            if (
                token is None
                or token.scope != scope
                or (token.renew_at is not None and now >= token.renew_at)
            ):
                token = self._fetch_token(scope)
                self._token = token
            return token

    def invalidate_token(self, stale: BearerToken | None = None) -> None:
        """Forget the token (only if it is still ``stale``, when given)."""
        with self._token_lock:
            if stale is None or self._token is stale:
                self._token = None

    def _fetch_token(self, scope: str) -> BearerToken:
        """``POST /oauth2/token``; retries once after learning the server's clock."""
        url = self.url(TOKEN_PATH)
        for attempt in (1, 2):
            assertion = self.assets.build_assertion(self.server_time_s())
            response = self.exchange(
                "POST",
                url,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                body=token_request_body(assertion, scope),
                timeout_s=self.timeout_s,
            )
            if response.status_code == 200:
                return self._parse_token(response, scope)
            server_ms = _current_time_ms(response)
            if response.status_code == 400 and server_ms is not None and attempt == 1:
                self._offset_s = server_ms / 1000.0 - self.clock.time()
                log.warning(
                    "clock skew: server time is %+.3f s from this device; assertions corrected",
                    self._offset_s,
                )
                continue
            if response.status_code in (400, 401, 403):
                ident, _ = self.assets.identity()
                raise SecurityException(
                    f"token endpoint {url} refused the client assertion of {ident!r}: "
                    f"{response.status_code} {_excerpt(response)}"
                )
            raise _status_error("POST", url, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse_token(self, response: requests.Response, scope: str) -> BearerToken:
        url = response.url
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
            raise TransportException(
                f"token endpoint {url} answered 200 without an access_token: {_excerpt(response)}",
                200,
                url,
            )
        token_type = doc.get("token_type") or "Bearer"
        renew_at: float | None = None
        expires = doc.get("expires_in")
        if isinstance(expires, int | float) and not isinstance(expires, bool) and expires > 0:
            # Java reads expires_in as milliseconds, and the servers we know send it so (§2.2).
            life_s = expires / 1000.0
            renew_at = self.clock.monotonic() + life_s - min(TOKEN_REFRESH_MARGIN_S, life_s / 10)
        return BearerToken(f"{token_type} {doc['access_token']}", scope, renew_at)

    # ------------------------------------------------------------------------- calls

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        accept_status: Collection[int] = (),
        stream: bool = False,
    ) -> requests.Response:
        """An authenticated call to ``path`` (``/iot/api/v2/...``, query string included).

        Returns the response when it is 2xx or in ``accept_status``.  A 401 renews the token
        and retries once; a second 401 raises :class:`SecurityException`.  Other statuses
        raise :class:`TransportException` with ``statusCode``.
        """
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":"))
        url = self.url(path)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        for attempt in (1, 2):
            token = self._current_token()
            ident, activated = self.assets.identity()
            all_headers = {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "Authorization": token.header,
                ("X-EndpointId" if activated else "X-ActivationId"): ident,
            }
            all_headers.update(headers or {})
            response = self.exchange(
                method, url, headers=all_headers, body=body, timeout_s=timeout, stream=stream
            )
            status = response.status_code
            if status == 401 and 401 not in accept_status:
                response.close()
                self.invalidate_token(token)
                if attempt == 1:
                    log.info("%s %s answered 401: renewing the token and retrying", method, path)
                    continue
                raise SecurityException(
                    f"{method} {url}: 401 even with a fresh token for {ident!r}"
                )
            if 200 <= status < 300 or status in accept_status:
                return response
            raise _status_error(method, url, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Cut calls in progress (a held long poll ends at once), close every session.

        Idempotent.  A call cut this way raises :class:`TransportException` in its thread.
        """
        self._closed = True
        self._connections.abort_all()
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __repr__(self) -> str:
        ident, activated = self.assets.identity()
        return f"<HttpSession {self.base_url} {ident!r} {'activated' if activated else 'new'}>"


def _current_time_ms(response: requests.Response) -> int | None:
    try:
        doc = response.json()
    except ValueError:
        return None
    value = doc.get("currentTime") if isinstance(doc, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def _excerpt(response: requests.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except Exception:  # pragma: no cover - decoding trouble must not hide the status
        return "<undecodable body>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _status_error(method: str, url: str, response: requests.Response) -> TransportException:
    status = response.status_code
    return TransportException(f"{method} {url}: {status} {_excerpt(response)}", status, url)
