"""Settings: defaults < config file (TOML, XDG config dir) < environment (MLOPS_CONSOLE_*) < command line."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from autofix.weights import LAMBDA, PENALTY_FACTOR
from core import validation
from core.errors import BadInput

APP = "mlops-console"
ROLES = ("viewer", "operator", "admin")
ENV_PREFIX = "MLOPS_CONSOLE_"


@dataclass
class Settings:
    home: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir(APP)))
    read_only: bool = False
    demo: bool = False
    seed: int = 42
    scale: str = ""
    user: str = ""
    refresh_seconds: float = 5.0
    reconcile_seconds: float = 30.0  # the TUI's reconcile of the approval queue (never in read-only mode)
    theme: str = "textual-dark"
    rules_file: Path = field(default_factory=lambda: Path(platformdirs.user_config_dir(APP)) / "rules.toml")
    log_tail_lines: int = 500
    log_tail_bytes: int = 1 << 20
    autofix_lambda: float = LAMBDA  # weight of P(fail) × penalty against cost in the config search
    autofix_penalty: float = PENALTY_FACTOR  # the penalty, in multiples of the failed config's predicted cost
    # [[autofix_policy]] tables: which suggestions apply themselves (none, unless configured)
    autofix_policy: list[dict[str, Any]] = field(default_factory=list)
    default_role: str = "viewer"
    roles: dict[str, str] = field(default_factory=dict)  # user -> viewer | operator | admin
    # [keys]: binding id -> the keys that replace its own, comma-separated, in Textual's names ("slash,ctrl+f")
    keys: dict[str, str] = field(default_factory=dict)
    config_path: Path | None = None
    # a Kubernetes cluster (core/backends/kube): the kubeconfig ("": $KUBECONFIG, else ~/.kube/config), its
    # context ("": the current one), the namespace ("": the context's), or every namespace
    kubeconfig: str = ""
    context: str = ""
    namespace: str = ""
    all_namespaces: bool = False
    node_pool_label: str = ""  # the node label naming a node's pool, where it is none of the clouds' own
    # training on a Kubernetes backend (docs/kubernetes.md#training-on-the-cluster): the image that holds
    # the console, the PersistentVolumeClaim its pods write artifacts to and where this machine sees that
    # same storage, the namespace ("": the console's) and each training pod's resources
    training_image: str = ""
    training_artifact_claim: str = ""
    training_artifact_dir: str = ""
    training_namespace: str = ""
    training_cpu: str = "2"
    training_memory: str = "4Gi"
    training_gpus: int = 0
    training_deadline_seconds: int = 3600
    # monitoring (docs/monitoring.md): the Prometheus that scrapes the serving metrics ("": the embedded
    # estate is read directly), its credentials (a bearer token, or user:password for basic auth, each
    # "" or read from an environment variable named with a leading $), the Alertmanager whose alerts the
    # Dashboard lists, how long a query may take, and an optional webhook for autofix and rollout events
    prometheus_url: str = ""
    prometheus_token: str = ""
    prometheus_basic_auth: str = ""
    alertmanager_url: str = ""
    monitoring_timeout_seconds: float = 3.0
    prometheus_step_seconds: float = 60.0  # one measurement per this many seconds (the rate windows: twice it)
    drift_window_minutes: float = 15.0  # the recent traffic that drift compares with the training reference
    webhook_url: str = ""
    metrics_port: int = 0  # the TUI serves the console's own metrics here on 127.0.0.1 (0: not at all)

    @property
    def login(self) -> str:
        return os.environ.get("USER") or os.environ.get("LOGNAME") or _login_name()

    @property
    def actor(self) -> str:
        """Who does what, for the audit record: the user (--as, or the login), plus the SSH client's address."""
        user = self.user or self.login
        ssh = os.environ.get("SSH_CLIENT", "").split()
        return f"{user}@{ssh[0]}" if ssh else user

    @property
    def role(self) -> str:
        """viewer < operator < admin. No [roles] table: a single-user install, the user is admin.
        --read-only forces viewer; --as USER takes USER's role, and only an admin may act as another."""
        if self.read_only:
            return "viewer"
        if not self.roles:
            return "admin"
        mine = self.roles.get(self.login, self.default_role)
        if self.user and self.user != self.login:
            return self.roles.get(self.user, self.default_role) if mine == "admin" else "viewer"
        return mine


def _login_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid:{os.getuid()}"


# key -> type the config file and environment may set
KEYS: dict[str, type] = {
    "home": Path,
    "read_only": bool,
    "seed": int,
    "scale": str,
    "user": str,
    "refresh_seconds": float,
    "reconcile_seconds": float,
    "theme": str,
    "rules_file": Path,
    "log_tail_lines": int,
    "log_tail_bytes": int,
    "autofix_lambda": float,
    "autofix_penalty": float,
    "autofix_policy": list,
    "default_role": str,
    "roles": dict,
    "keys": dict,
    "demo": bool,
    "kubeconfig": str,
    "context": str,
    "namespace": str,
    "all_namespaces": bool,
    "node_pool_label": str,
    "training_image": str,
    "training_artifact_claim": str,
    "training_artifact_dir": str,
    "training_namespace": str,
    "training_cpu": str,
    "training_memory": str,
    "training_gpus": int,
    "training_deadline_seconds": int,
    "prometheus_url": str,
    "prometheus_token": str,
    "prometheus_basic_auth": str,
    "alertmanager_url": str,
    "monitoring_timeout_seconds": float,
    "prometheus_step_seconds": float,
    "drift_window_minutes": float,
    "webhook_url": str,
    "metrics_port": int,
}
POLICY_KEYS = {"name": str, "category": str, "min_p_success": float, "max_cost_increase": float}


def default_config_path() -> Path:
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP)) / "config.toml"


def load(cli: dict[str, Any] | None = None) -> Settings:
    """Resolve the settings; raise BadInput naming the file, key or variable at fault."""
    s = Settings()
    path = Path(cli["config"]) if cli and cli.get("config") else default_config_path()
    s.config_path = path
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"config file {path}: invalid TOML: {e}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"config file {path}: cannot read: {e}") from None
        for key, value in data.items():
            if key not in KEYS:
                raise BadInput(f"config file {path}: unknown key {key!r} (known: {', '.join(sorted(KEYS))})")
            where = f"config file {path}: key {key!r}"
            if key == "keys":
                s.keys = keymap(value, f"config file {path}: [keys] table")
                continue
            setattr(s, key, _checked(key, _coerce(value, KEYS[key], where), where))
    for key, typ in KEYS.items():
        if typ in (dict, list):  # tables live in the file only
            continue
        env = ENV_PREFIX + key.upper()
        if env in os.environ and os.environ[env] != "":
            where = f"environment variable {env}"
            setattr(s, key, _checked(key, _coerce(os.environ[env], typ, where), where))
    for key, value in (cli or {}).items():
        if value is not None and key in {f.name for f in fields(Settings)}:
            where = f"option {OPTIONS.get(key, '--' + key.replace('_', '-'))}"
            setattr(s, key, _checked(key, _coerce(value, KEYS.get(key, type(value)), where), where))
    s.home = Path(os.path.expanduser(str(s.home)))
    s.rules_file = Path(os.path.expanduser(str(s.rules_file)))
    if s.autofix_lambda < 0 or s.autofix_penalty < 0:
        raise BadInput(
            f"autofix_lambda and autofix_penalty must not be negative, got {s.autofix_lambda} and {s.autofix_penalty}"
        )
    if s.default_role not in ROLES:
        raise BadInput(f"default_role must be one of {', '.join(ROLES)}, got {s.default_role!r}")
    if s.refresh_seconds <= 0:
        raise BadInput(f"refresh_seconds must be positive, got {s.refresh_seconds}")
    if s.reconcile_seconds <= 0:
        raise BadInput(f"reconcile_seconds must be positive, got {s.reconcile_seconds}")
    if s.log_tail_lines < 1 or s.log_tail_bytes < 1024:
        raise BadInput(
            f"log_tail_lines must be ≥ 1 and log_tail_bytes ≥ 1024, got {s.log_tail_lines} and {s.log_tail_bytes}"
        )
    if s.training_gpus < 0 or s.training_deadline_seconds < 1:
        raise BadInput(
            f"training_gpus must be ≥ 0 and training_deadline_seconds ≥ 1, got {s.training_gpus} and "
            f"{s.training_deadline_seconds}"
        )
    if s.monitoring_timeout_seconds <= 0 or s.prometheus_step_seconds < 1 or s.drift_window_minutes <= 0:
        raise BadInput(
            "monitoring_timeout_seconds and drift_window_minutes must be positive and prometheus_step_seconds ≥ 1, "
            f"got {s.monitoring_timeout_seconds}, {s.drift_window_minutes} and {s.prometheus_step_seconds}"
        )
    for key in ("prometheus_url", "alertmanager_url", "webhook_url"):
        url = getattr(s, key)
        if url and not url.startswith(("http://", "https://")):
            raise BadInput(f"{key} must be an http:// or https:// URL, got {url!r}")
    if not 0 <= s.metrics_port <= 65535:
        raise BadInput(f"metrics_port must be a TCP port (1-65535, or 0 for none), got {s.metrics_port}")
    if s.prometheus_basic_auth and ":" not in secret(s.prometheus_basic_auth):
        raise BadInput("prometheus_basic_auth must be user:password (or $VARIABLE holding it)")
    return s


def secret(value: str) -> str:
    """A credential setting's value: itself, or the environment variable it names with a leading $ (so
    that the config file need not hold the secret)."""
    return os.environ.get(value[1:], "") if value.startswith("$") else value


OPTIONS = {"user": "--as"}  # settings whose command-line option is not named after them


def _checked(key: str, value: Any, where: str) -> Any:
    if key == "user":  # recorded in every audit event and shown on every screen
        return validation.user_name(value, where)
    return value


def _coerce(value: Any, typ: type, where: str) -> Any:
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            return value.lower() in {"1", "true", "yes", "on"}
        raise BadInput(f"{where} must be true or false, got {value!r}")
    if typ in (int, float):
        if isinstance(value, bool):
            raise BadInput(f"{where} must be a number, got {value!r}")
        try:
            return typ(value)
        except (TypeError, ValueError):
            raise BadInput(f"{where} must be a{'n integer' if typ is int else ' number'}, got {value!r}") from None
    if typ is dict:  # [roles]: user = "viewer" | "operator" | "admin"
        if not isinstance(value, dict):
            raise BadInput(f"{where} must be a table of user = role")
        for user, role in value.items():
            if role not in ROLES:
                raise BadInput(f"{where}: user {user!r} has unknown role {role!r} (one of {', '.join(ROLES)})")
        return dict(value)
    if typ is list:  # [[autofix_policy]]: category, min_p_success, max_cost_increase, name
        return (
            [_policy(p, f"{where}[{i}]") for i, p in enumerate(value)]
            if isinstance(value, list)
            else _fail(f"{where} must be an array of tables ([[autofix_policy]])")
        )
    if typ is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise BadInput(f"{where} must be a path, got {value!r}")
        return Path(value)
    if not isinstance(value, str):
        raise BadInput(f"{where} must be a string, got {value!r}")
    return value


MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
KEY_EXAMPLES = '"C", "ctrl+f", "f5", "slash", "question_mark", "escape"'


def keymap(value: Any, where: str) -> dict[str, str]:
    """The [keys] table: binding id = "key" or "key,key", each key as Textual names it. Returned with every
    key in Textual's own spelling ("/" becomes "slash", as key events name it). Which binding ids exist
    is the TUI's to say (check_binding_ids), when it starts."""
    if not isinstance(value, dict):
        raise BadInput(f'{where} must be a table of binding id = "keys" (e.g. cordon = "C")')
    out: dict[str, str] = {}
    for binding_id, keys in value.items():
        if not isinstance(keys, str):
            raise BadInput(f'{where}: {binding_id} must be a string of keys (e.g. {binding_id} = "C"), got {keys!r}')
        names = [k.strip() for k in keys.split(",")]
        normal = [_key_name(k) for k in names]
        for given, name in zip(names, normal, strict=True):
            if name is None:
                raise BadInput(
                    f"{where}: {binding_id} = {keys!r}: {given!r} is not a key Textual knows "
                    f"(keys are comma-separated, each like {KEY_EXAMPLES})"
                )
        out[binding_id] = ",".join(normal)  # type: ignore[arg-type]
    return out


def _key_name(key: str) -> str | None:
    """`key` in Textual's spelling (modifiers, then one key), or None when Textual would never send it."""
    import unicodedata

    from textual.keys import REPLACED_KEYS, Keys, _character_to_key, _get_unicode_name_from_key

    *modifiers, name = key.split("+")
    if not name or any(m not in MODIFIERS for m in modifiers) or len(set(modifiers)) != len(modifiers):
        return None
    if len(name) == 1:
        if not name.isprintable() or name.isspace():
            return None
        name = _character_to_key(name)
    elif name not in {k.value for k in Keys if not k.value.startswith("<")}:
        # a character's name ("slash", "question_mark") only as Textual itself spells it
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(name, name)))
        except KeyError:
            return None
        if _character_to_key(char) != name:
            return None
    return "+".join([*modifiers, name])


def check_binding_ids(s: Settings, known: set[str]) -> None:
    """Refuse a [keys] entry naming no binding (the TUI calls this as it starts, knowing its bindings)."""
    for binding_id in s.keys:
        if binding_id not in known:
            raise BadInput(
                f"config file {s.config_path}: [keys] table: {binding_id} is not a binding id "
                f"(known: {', '.join(sorted(known))})"
            )


def _fail(message: str):
    raise BadInput(message)


def _policy(p: Any, where: str) -> dict[str, Any]:
    from core.taxonomy import TAXONOMY

    if not isinstance(p, dict):
        raise BadInput(f"{where} must be a table")
    for key, value in p.items():
        if key not in POLICY_KEYS:
            raise BadInput(f"{where}: unknown key {key!r} (known: {', '.join(POLICY_KEYS)})")
        if POLICY_KEYS[key] is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise BadInput(f"{where}: {key} must be a number, got {value!r}")
        if POLICY_KEYS[key] is str and not isinstance(value, str):
            raise BadInput(f"{where}: {key} must be a string, got {value!r}")
    if p.get("category", "*") not in (*TAXONOMY, "*"):
        raise BadInput(f'{where}: category {p["category"]!r} is not in the taxonomy (or "*")')
    if not 0 <= p.get("min_p_success", 0.9) <= 1:
        raise BadInput(f"{where}: min_p_success must be between 0 and 1, got {p['min_p_success']}")
    if p.get("max_cost_increase", 0) < 0:
        raise BadInput(f"{where}: max_cost_increase must not be negative, got {p['max_cost_increase']}")
    return {
        "name": p.get("name", f"{p.get('category', '*')}-policy"),
        "category": p.get("category", "*"),
        "min_p_success": float(p.get("min_p_success", 0.9)),
        "max_cost_increase": None if "max_cost_increase" not in p else float(p["max_cost_increase"]),
    }
