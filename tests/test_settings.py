"""Settings: defaults < config file < environment (MLOPS_CONSOLE_*) < command line, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from console import settings
from core.errors import BadInput


@pytest.fixture
def cfg(clean_env, monkeypatch, tmp_path):
    """Write the config file that MLOPS_CONSOLE_CONFIG names."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_defaults_without_a_config_file(clean_env):
    s = settings.load({})
    assert s.seed == 42
    assert s.read_only is False
    assert s.refresh_seconds == 5.0
    # the store's default place is the XDG data dir
    assert s.home == clean_env / "xdg-data" / "mlops-console"
    assert s.config_path == clean_env / "no-such-config.toml"


def test_default_config_path_is_in_the_xdg_config_dir(clean_env, monkeypatch):
    monkeypatch.delenv("MLOPS_CONSOLE_CONFIG")
    assert settings.default_config_path() == clean_env / "xdg-config" / "mlops-console" / "config.toml"


def test_precedence_file_then_env_then_command_line(cfg, monkeypatch, tmp_path):
    cfg("seed = 7\nrefresh_seconds = 2.5\nhome = '/from/file'\nread_only = true\nuser = 'filer'\n")
    s = settings.load({})
    assert (s.seed, s.refresh_seconds, s.home, s.read_only, s.user) == (7, 2.5, Path("/from/file"), True, "filer")

    monkeypatch.setenv("MLOPS_CONSOLE_SEED", "8")
    monkeypatch.setenv("MLOPS_CONSOLE_HOME", "/from/env")
    monkeypatch.setenv("MLOPS_CONSOLE_READ_ONLY", "off")
    s = settings.load({})
    assert (s.seed, s.home, s.read_only, s.refresh_seconds) == (8, Path("/from/env"), False, 2.5)

    s = settings.load({"seed": 9, "home": "/from/cli", "read_only": True, "user": "cli-user"})
    assert (s.seed, s.home, s.read_only, s.user) == (9, Path("/from/cli"), True, "cli-user")
    assert s.actor == "cli-user"


def test_command_line_none_does_not_override(cfg):
    cfg("seed = 7\n")
    assert settings.load({"seed": None, "home": None, "read_only": None}).seed == 7


def test_config_option_beats_the_environment(cfg, tmp_path):
    cfg("seed = 7\n")
    other = tmp_path / "other.toml"
    other.write_text("seed = 11\n")
    s = settings.load({"config": str(other)})
    assert s.seed == 11 and s.config_path == other


def test_empty_environment_variable_is_ignored(cfg, monkeypatch):
    cfg("seed = 7\n")
    monkeypatch.setenv("MLOPS_CONSOLE_SEED", "")
    assert settings.load({}).seed == 7


def test_home_expands_the_user_dir(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert settings.load({"home": "~/consoles/a"}).home == tmp_path / "me" / "consoles" / "a"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        ("on", True),
        ("0", False),
        ("no", False),
        ("False", False),
        ("off", False),
    ],
)
def test_boolean_environment_values(clean_env, monkeypatch, value, expected):
    monkeypatch.setenv("MLOPS_CONSOLE_READ_ONLY", value)
    assert settings.load({}).read_only is expected


@pytest.mark.parametrize(
    "text, needles",
    [
        ("seed = 42\nthis is not toml\n", ["invalid TOML", "line 2"]),
        ("[section\n", ["invalid TOML", "line 1"]),
        ("colour = 'red'\n", ["unknown key 'colour'"]),
        ("seed = 'many'\n", ["'seed'", "integer"]),
        ("seed = true\n", ["'seed'"]),
        ("refresh_seconds = 'soon'\n", ["'refresh_seconds'"]),
        ("read_only = 'maybe'\n", ["'read_only'", "true or false"]),
        ("read_only = 1\n", ["'read_only'"]),
        ("home = 5\n", ["'home'"]),
        ("theme = 3\n", ["'theme'"]),
        ('keys = "C"\n', ["[keys] table", "must be a table"]),
        ("[keys]\ncordon = 3\n", ["[keys] table", "cordon", "string", "3"]),
        ('[keys]\ncordon = "ctrl+"\n', ["[keys] table", "cordon", "'ctrl+'", "not a key"]),
        ('[keys]\nfilter = "slash,Ctrl+F"\n', ["[keys] table", "filter", "'Ctrl+F'"]),
        ('[keys]\ncordon = ""\n', ["[keys] table", "cordon", "not a key"]),
        ('[keys]\ncordon = "no_such_key"\n', ["[keys] table", "cordon", "'no_such_key'"]),
    ],
)
def test_bad_config_file_names_the_file_and_the_fault(cfg, text, needles):
    path = cfg(text)
    with pytest.raises(BadInput) as e:
        settings.load({})
    msg = str(e.value)
    assert str(path) in msg
    for n in needles:
        assert n in msg, msg
    assert "\n" not in msg
    assert e.value.exit_code == 2


def test_keys_table_in_textual_spelling(cfg):
    cfg('[keys]\ncordon = "C"\nfilter = " / , ctrl+f"\nhelp = "?,f1"\nquit = "ctrl+/"\n')
    keys = settings.load({}).keys
    assert keys == {"cordon": "C", "filter": "slash,ctrl+f", "help": "question_mark,f1", "quit": "ctrl+slash"}


def test_keys_name_only_bindings_the_tui_has(cfg):
    path = cfg('[keys]\ncordn = "C"\n')
    s = settings.load({})  # which ids exist is the TUI's to say, as it starts
    with pytest.raises(BadInput) as e:
        settings.check_binding_ids(s, {"cordon", "filter"})
    msg = str(e.value)
    assert str(path) in msg and "[keys] table" in msg and "cordn" in msg and "cordon, filter" in msg


def test_unreadable_config_file(cfg):
    path = cfg("")
    path.write_bytes(b"seed = 1\n\xff\xfe bad utf-8\n")
    with pytest.raises(BadInput) as e:
        settings.load({})
    assert str(path) in str(e.value)


@pytest.mark.parametrize(
    "var, value",
    [("MLOPS_CONSOLE_REFRESH_SECONDS", "abc"), ("MLOPS_CONSOLE_SEED", "4.5"), ("MLOPS_CONSOLE_READ_ONLY", "maybe")],
)
def test_bad_environment_variable_names_it(clean_env, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(BadInput) as e:
        settings.load({})
    assert var in str(e.value) and value in str(e.value)


@pytest.mark.parametrize("value", ["0", "-1"])
def test_refresh_must_be_positive(clean_env, monkeypatch, value):
    monkeypatch.setenv("MLOPS_CONSOLE_REFRESH_SECONDS", value)
    with pytest.raises(BadInput) as e:
        settings.load({})
    assert "refresh_seconds" in str(e.value)


def test_actor_carries_the_ssh_client_address(clean_env, monkeypatch):
    monkeypatch.setenv("SSH_CLIENT", "192.0.2.7 52144 22")
    assert settings.load({"user": "alice"}).actor == "alice@192.0.2.7"
    monkeypatch.delenv("SSH_CLIENT")
    assert settings.load({"user": "alice"}).actor == "alice"


# -- the CLI reads the same settings -------------------------------------------------------------------
def test_cli_uses_the_config_file_in_the_xdg_config_dir(cli, tmp_path):
    env = dict(cli.env)
    del env["MLOPS_CONSOLE_CONFIG"]
    cfgdir = Path(env["XDG_CONFIG_HOME"]) / "mlops-console"
    cfgdir.mkdir(parents=True)
    home = tmp_path / "home-from-config"
    (cfgdir / "config.toml").write_text(f"home = '{home}'\nuser = 'from-config'\n")
    cli.env = env
    out = cli.ok("version").out
    assert f"home: {home}" in out.splitlines()
    assert "user: from-config" in out.splitlines()
    assert (home / "console.db").is_file()
    # the environment beats the file, the command line beats both
    out = cli.ok("version", env={"MLOPS_CONSOLE_USER": "from-env"}).out
    assert "user: from-env" in out.splitlines()
    out = cli.ok("--as", "from-cli", "version", env={"MLOPS_CONSOLE_USER": "from-env"}).out
    assert "user: from-cli" in out.splitlines()


def test_cli_default_home_is_the_xdg_data_dir(cli):
    out = cli.ok("version").out
    expected = Path(cli.env["XDG_DATA_HOME"]) / "mlops-console"
    assert f"home: {expected}" in out.splitlines()
    assert (expected / "console.db").is_file()
