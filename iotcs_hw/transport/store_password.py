"""Where the trusted-assets store password comes from: never from a command-line flag.

A flag shows in ``ps`` and in shell history, so the password is taken, in this order, from:

1. an explicit argument (a program that already holds it, e.g. read from a prompt);
2. a systemd credential: ``$CREDENTIALS_DIRECTORY/<name>`` (``LoadCredential=`` or
   ``LoadCredentialEncrypted=`` in the unit; the file is readable only by the service);
3. an environment variable (``IOTCS_HW_STORE_PASSWORD`` by default).

One trailing newline is removed from a credential file (``echo`` and ``systemd-creds`` add
one); any other whitespace is part of the password.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from iotcs_hw.errors import ConfigError

DEFAULT_ENV_VAR = "IOTCS_HW_STORE_PASSWORD"
DEFAULT_CREDENTIAL = "iotcs-store-password"
CREDENTIALS_DIRECTORY_VAR = "CREDENTIALS_DIRECTORY"


@dataclass(frozen=True)
class StorePassword:
    """A password and a description of where it came from (for messages, never the value)."""

    value: str
    origin: str

    def __repr__(self) -> str:
        return f"StorePassword(origin={self.origin!r})"


def resolve_store_password(
    password: str | None = None,
    *,
    env_var: str = DEFAULT_ENV_VAR,
    credential: str = DEFAULT_CREDENTIAL,
    environ: Mapping[str, str] | None = None,
) -> StorePassword:
    """Find the store password; raises :class:`ConfigError` listing every place looked at.

    ``environ`` defaults to ``os.environ`` (tests pass their own mapping).
    """
    env = os.environ if environ is None else environ
    if password is not None:
        if not password:
            raise ConfigError("the store password given as an argument is empty")
        return StorePassword(password, "argument")
    if "/" in credential or credential in ("", ".", ".."):
        raise ConfigError(f"credential name {credential!r} must be a plain file name")
    looked = []
    cred_dir = env.get(CREDENTIALS_DIRECTORY_VAR)
    if cred_dir:
        path = Path(cred_dir) / credential
        looked.append(f"systemd credential {path}")
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConfigError(
                f"systemd credential {path}: cannot read: {exc.strerror or exc}"
            ) from exc
        else:
            try:
                value = _strip_one_newline(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"systemd credential {path} is not UTF-8 text") from None
            if not value:
                raise ConfigError(f"systemd credential {path} is empty")
            return StorePassword(value, f"systemd credential {path}")
    else:
        looked.append(f"systemd credential {credential!r} (${CREDENTIALS_DIRECTORY_VAR} unset)")
    looked.append(f"environment variable {env_var}")
    from_env = env.get(env_var)
    if from_env:
        return StorePassword(from_env, f"environment variable {env_var}")
    raise ConfigError(
        "no trusted-assets store password: looked at " + ", ".join(looked) + "; set one of "
        "them (a command-line flag is deliberately not supported: it would show in ps)"
    )


def _strip_one_newline(raw: bytes) -> bytes:
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n"):
        return raw[:-1]
    return raw
