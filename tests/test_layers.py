"""The house rules on imports: the engine never imports textual, and heavy libraries load only when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import REPO, isolated_env


def run_python(code: str, env: dict[str, str]) -> dict:
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_import_linter_contracts_hold(tmp_path):
    env = isolated_env(tmp_path)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(["lint-imports", "--no-cache"], capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "KEPT" in p.stdout and " 0 broken" in p.stdout, p.stdout


def test_engine_packages_never_import_textual(tmp_path):
    """Import every module of core/ and autofix/ in a fresh interpreter: textual stays out."""
    result = run_python(
        """
        import importlib, json, pkgutil, sys
        imported = []
        for name in ("core", "autofix"):
            pkg = importlib.import_module(name)
            imported.append(name)
            for m in pkgutil.walk_packages(pkg.__path__, name + "."):
                importlib.import_module(m.name)
                imported.append(m.name)
        loaded = sorted({m.split(".")[0] for m in sys.modules})
        print(json.dumps({"imported": imported, "loaded": loaded}))
    """,
        isolated_env(tmp_path),
    )
    for must in (
        "core.store",
        "core.backends.sim",
        "core.backends.sim.estate",
        "core.audit",
        "core.sanitize",
        "core.types",
    ):
        assert must in result["imported"]
    # every module file under core/ was imported
    files = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for p in (REPO / "core").rglob("*.py")
    }
    assert files <= set(result["imported"]), files - set(result["imported"])
    for forbidden in ("textual", "console", "screens"):
        assert forbidden not in result["loaded"], forbidden


def test_cli_and_engine_do_not_load_torch_or_sklearn(tmp_path, home_copy):
    env = isolated_env(tmp_path)
    result = run_python(
        f"""
        import io, json, sys, contextlib
        import console.cli, console.engine
        from console import settings
        engine = console.engine.Engine(settings.load({{"home": {str(home_copy)!r}}}))
        s = engine.summary()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            for argv in (["jobs", "list", "--failed"], ["nodes", "list"], ["rollouts", "list"],
                         ["models", "list"], ["audit", "list"], ["version"]):
                assert console.cli.main(["--home", {str(home_copy)!r}, *argv]) == 0, argv
        heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"torch", "sklearn", "scipy"}})
        print(json.dumps({{"nodes": s.nodes_total, "heavy": heavy, "printed": len(out.getvalue())}}))
    """,
        env,
    )
    assert result["nodes"] == 40
    assert result["printed"] > 0
    assert result["heavy"] == []


def test_declared_dependencies_are_the_ones_imported():
    """pyproject's dependencies and the third-party modules the code imports are the same set: nothing
    declared and never imported, nothing imported that only arrives by chance with another package."""
    import ast
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    # cyclonedx-bom and bandit are run as tools (`python -m cyclonedx_py`, `python -m bandit`), not imported
    import_name = {
        "scikit-learn": "sklearn",
        "sqlite-utils": "sqlite_utils",
        "PyYAML": "yaml",
        "cyclonedx-bom": "cyclonedx_py",
    }
    declared = set()
    for d in deps:
        name = d.split(";")[0].split("[")[0]
        for sep in ("==", ">=", "<=", "<", ">", "~="):
            name = name.split(sep)[0]
        declared.add(import_name.get(name.strip(), name.strip().replace("-", "_")))
    project = {"console", "core", "autofix", "screens", "fixtures"}
    imported = set()
    for package in project - {"fixtures"}:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
                elif isinstance(node, ast.List | ast.Tuple):  # [sys.executable, "-m", "tool", ...]
                    words = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                    imported |= {words[i + 1].split(".")[0] for i, w in enumerate(words[:-1]) if w == "-m"}
    third_party = {m for m in imported - project if m not in sys.stdlib_module_names and m != "__future__"}
    assert third_party == declared
