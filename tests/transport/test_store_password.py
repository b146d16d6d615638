"""The store password comes from an argument, a systemd credential or the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from iotcs_hw.errors import ConfigError
from iotcs_hw.transport.store_password import resolve_store_password


def test_argument_wins(tmp_path: Path) -> None:
    (tmp_path / "iotcs-store-password").write_text("from-file\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "IOTCS_HW_STORE_PASSWORD": "from-env"}
    found = resolve_store_password("given", environ=env)
    assert (found.value, found.origin) == ("given", "argument")


def test_systemd_credential_before_environment(tmp_path: Path) -> None:
    (tmp_path / "iotcs-store-password").write_bytes(b"s3cret \n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "IOTCS_HW_STORE_PASSWORD": "from-env"}
    found = resolve_store_password(environ=env)
    assert found.value == "s3cret "  # one newline removed, other whitespace kept
    assert found.origin == f"systemd credential {tmp_path / 'iotcs-store-password'}"
    assert "s3cret" not in repr(found)


def test_environment_variable(tmp_path: Path) -> None:
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "MY_PW": "from-env"}
    found = resolve_store_password(env_var="MY_PW", environ=env)
    assert (found.value, found.origin) == ("from-env", "environment variable MY_PW")


def test_custom_credential_name(tmp_path: Path) -> None:
    (tmp_path / "gw-pw").write_text("x\r\n")
    found = resolve_store_password(
        credential="gw-pw", environ={"CREDENTIALS_DIRECTORY": str(tmp_path)}
    )
    assert found.value == "x"


def test_nothing_found_lists_every_place() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_store_password(environ={})
    text = str(info.value)
    assert "systemd credential 'iotcs-store-password' ($CREDENTIALS_DIRECTORY unset)" in text
    assert "environment variable IOTCS_HW_STORE_PASSWORD" in text
    assert "command-line flag is deliberately not supported" in text


@pytest.mark.parametrize(
    ("content", "fragment"), [(b"", "is empty"), (b"\n", "is empty"), (b"\xff\xfe", "not UTF-8")]
)
def test_bad_credential_files(tmp_path: Path, content: bytes, fragment: str) -> None:
    (tmp_path / "iotcs-store-password").write_bytes(content)
    with pytest.raises(ConfigError, match=fragment):
        resolve_store_password(environ={"CREDENTIALS_DIRECTORY": str(tmp_path)})


def test_empty_argument_and_bad_credential_name() -> None:
    with pytest.raises(ConfigError, match="given as an argument is empty"):
        resolve_store_password("")
    with pytest.raises(ConfigError, match="must be a plain file name"):
        resolve_store_password(credential="../etc/shadow", environ={})
