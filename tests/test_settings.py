from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

import comp_adapters.plugins
from comp_adapters.errors import ConfigurationError
from comp_adapters.settings import build_settings, gather, load_config


class LmsSettings(BaseModel):
    url: str
    token: SecretStr
    batch: int = 10


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[lms]\nurl = "https://file.example"\ntoken_env = "MY_TOKEN"\nbatch = 3\n')
    config = load_config(path)
    environ = {"MY_TOKEN": "from-env-var", "COMP_ADAPTERS_LMS_URL": "https://env.example"}
    merged = gather("lms", config=config, environ=environ, flags={"batch": 7, "url": None})
    settings = build_settings(LmsSettings, "lms", merged)
    assert settings.url == "https://env.example"
    assert settings.token.get_secret_value() == "from-env-var"
    assert settings.batch == 7
    assert "from-env-var" not in repr(settings)


def test_missing_settings_name_the_setting_not_the_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        build_settings(LmsSettings, "lms", {"url": "https://x.example", "batch": "many"})
    text = str(caught.value)
    assert "lms setting 'token': missing" in text
    assert "$COMP_ADAPTERS_LMS_TOKEN" in text
    assert "many" not in text


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_config(tmp_path / "absent.toml")
    broken = tmp_path / "b.toml"
    broken.write_text("[lms\n")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_config(broken)
    with pytest.raises(ConfigurationError, match=r"\$NOPE"):
        gather("lms", config={"lms": {"token_env": "NOPE"}}, environ={})


def test_no_default_config_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMP_ADAPTERS_CONFIG", raising=False)
    assert load_config() == {}


def test_a_longer_adapter_name_keeps_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """``COMP_ADAPTERS_MEMORY_RO_TOKEN`` belongs to ``memory-ro``, not to ``memory``."""
    monkeypatch.setattr(comp_adapters.plugins, "adapter_names", lambda: ["memory", "memory-ro"])
    environ = {"COMP_ADAPTERS_MEMORY_URL": "u", "COMP_ADAPTERS_MEMORY_RO_TOKEN": "t"}
    assert gather("memory", environ=environ) == {"url": "u"}
    assert gather("memory-ro", environ=environ) == {"token": "t"}
