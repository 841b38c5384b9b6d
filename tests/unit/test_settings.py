"""Settings: defaults, one-line errors that name the variable, and the generated key file."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path

import pytest

from web.settings import SECRET_KEY_FILE_NAME, SettingsError, load_settings

KEY = "k" * 40


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from an empty folder, so the default ./var lands there and not in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults(in_tmp: Path) -> None:
    settings = load_settings({"PROVCONNECT_SECRET_KEY": KEY})
    assert settings.data_dir == (in_tmp / "var").resolve()
    assert settings.data_dir.is_absolute()
    assert settings.database_url == f"sqlite://{settings.data_dir / 'provconnect.sqlite3'}"
    assert settings.issuer == "ProVconnect"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.secure_cookies is False
    assert settings.secret_key == KEY


def test_the_process_environment_is_not_read_when_a_mapping_is_given(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVCONNECT_PORT", "9999")
    assert load_settings({"PROVCONNECT_SECRET_KEY": KEY}).port == 8000


@pytest.mark.parametrize(
    ("host", "choice", "secure"),
    [
        ("127.0.0.1", "auto", False),
        ("localhost", "auto", False),
        ("::1", "auto", False),
        ("0.0.0.0", "auto", True),
        ("192.0.2.10", "auto", True),
        ("0.0.0.0", "off", False),
        ("127.0.0.1", "on", True),
        ("0.0.0.0", "ON", True),
    ],
)
def test_secure_cookies(in_tmp: Path, host: str, choice: str, secure: bool) -> None:
    env = {"PROVCONNECT_SECRET_KEY": KEY, "PROVCONNECT_HOST": host, "PROVCONNECT_SECURE_COOKIES": choice}
    assert load_settings(env).secure_cookies is secure


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("PORT", "0"),
        ("PORT", "８０００"),
        ("SECURE_COOKIES", "maybe"),
        ("DATABASE_URL", "mysql://x"),
        ("SECRET_KEY", "s" * 31),
        ("ISSUER", "Pro:Vconnect"),
        ("REDIS_URL", "http://x"),
        ("REDIS_URL", "redis://cache:6379/zero"),
        ("REDIS_URL", "redis://cache:70000/0"),
        ("REDIS_URL", "redis://:6379/0"),
        ("REDIS_URL", "redis://cache:6379/0?socket_timeout=5"),
        ("REDIS_URL", "unix://cache/run/redis.sock"),
    ],
)
def test_a_bad_value_names_its_variable(in_tmp: Path, name: str, value: str) -> None:
    env = {"PROVCONNECT_SECRET_KEY": KEY, f"PROVCONNECT_{name}": value}
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    assert str(raised.value).startswith(f"PROVCONNECT_{name}:")
    assert "\n" not in str(raised.value)


def test_a_short_secret_key_is_not_echoed_in_the_error(in_tmp: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"PROVCONNECT_SECRET_KEY": "too-short-but-secret"})
    assert "too-short-but-secret" not in str(raised.value)


def test_the_key_file_is_created_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings({"PROVCONNECT_DATA_DIR": str(data_dir)})
    key_file = data_dir / SECRET_KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == settings.secret_key
    assert len(settings.secret_key) >= 32


def test_the_key_file_is_reused_on_the_next_load(tmp_path: Path) -> None:
    env = {"PROVCONNECT_DATA_DIR": str(tmp_path / "data")}
    first = load_settings(env)
    key_file = tmp_path / "data" / SECRET_KEY_FILE_NAME
    written = key_file.stat().st_mtime_ns, key_file.read_bytes()
    second = load_settings(env)
    assert second.secret_key == first.secret_key
    assert (key_file.stat().st_mtime_ns, key_file.read_bytes()) == written


def test_no_temporary_file_is_left_beside_the_key(tmp_path: Path) -> None:
    load_settings({"PROVCONNECT_DATA_DIR": str(tmp_path / "data")})
    assert [path.name for path in (tmp_path / "data").iterdir()] == [SECRET_KEY_FILE_NAME]


def test_a_provided_secret_key_creates_no_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = load_settings({"PROVCONNECT_DATA_DIR": str(data_dir), "PROVCONNECT_SECRET_KEY": KEY})
    assert settings.secret_key == KEY
    assert not (data_dir / SECRET_KEY_FILE_NAME).exists()


@pytest.mark.parametrize(
    ("name", "value", "driver"),
    [("DATABASE_URL", "postgres://u@db:5432/provconnect", "asyncpg"), ("REDIS_URL", "redis://cache:6379/0", "hiredis")],
)
def test_a_url_whose_driver_is_missing_names_the_variable_and_the_extra(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, driver: str
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *a: None if module == driver else real_find_spec(module, *a))
    with pytest.raises(SettingsError) as raised:
        load_settings({"PROVCONNECT_SECRET_KEY": KEY, f"PROVCONNECT_{name}": value})
    message = str(raised.value)
    assert message.startswith(f"PROVCONNECT_{name}: needs the {driver} package") and "\n" not in message


def test_postgres_and_redis_urls_are_taken_as_given(in_tmp: Path) -> None:
    env = {
        "PROVCONNECT_SECRET_KEY": KEY,
        "PROVCONNECT_DATABASE_URL": "postgres://u:p@db:5432/provconnect",
        "PROVCONNECT_REDIS_URL": "redis://cache:6379/0",
        "PROVCONNECT_REDIS_NAMESPACE": "site-a",
    }
    settings = load_settings(env)
    assert (settings.database_url, settings.redis_url, settings.redis_namespace) == (
        "postgres://u:p@db:5432/provconnect", "redis://cache:6379/0", "site-a"
    )
    assert not settings.uses_sqlite


@pytest.mark.parametrize(
    ("name", "value"),
    [("DATABASE_URL", "psql://u@db/x"), ("DATABASE_URL", "postgres://u@db:5432/"), ("REDIS_NAMESPACE", "a b")],
)
def test_more_bad_values_name_their_variable(in_tmp: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"PROVCONNECT_SECRET_KEY": KEY, f"PROVCONNECT_{name}": value})
    assert str(raised.value).startswith(f"PROVCONNECT_{name}:")
