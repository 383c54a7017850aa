"""The command line as a user drives it: real subprocesses of `python -m console` on a real store."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest
from conftest import DB_NAME, PINNED_NOW, REPO, SIM_DB
from rich.text import Text

from core.sanitize import strip_control
from core.store import SCHEMA_VERSION
from screens.widgets import safe_markup

HISTORY_FIELDS = {
    "job_id",
    "run_id",
    "attempt",
    "submitted_at",
    "kind",
    "input_bytes",
    "conf",
    "status",
    "log_tail",
    "runtime_seconds",
    "cost",
}


def H(home) -> tuple[str, str]:
    return ("--home", str(home))


# -- jobs list ---------------------------------------------------------------------------------------
def test_jobs_list_failed_json_gives_history_records_of_failed_attempts(demo_failed, demo_attempts):
    assert isinstance(demo_failed, list) and demo_failed
    for rec in demo_failed:
        assert HISTORY_FIELDS <= rec.keys(), rec.keys()
        assert rec["status"] == "failed"
        assert isinstance(rec["job_id"], str) and rec["job_id"]
        assert isinstance(rec["run_id"], str) and rec["run_id"]
        assert isinstance(rec["attempt"], int) and rec["attempt"] >= 1
        assert isinstance(rec["conf"], dict) and rec["conf"]
        assert isinstance(rec["log_tail"], str) and rec["log_tail"].strip()
    assert len({r["run_id"] for r in demo_failed}) == len(demo_failed)
    # --failed is exactly the failed subset of the full listing, in the same (newest first) order
    assert demo_failed == [a for a in demo_attempts if a["status"] == "failed"]
    stamps = [a["submitted_at"] for a in demo_attempts]
    assert stamps == sorted(stamps, reverse=True)
    assert {a["status"] for a in demo_attempts} == {"failed", "succeeded"}
    assert all(a.get("log_tail") is None for a in demo_attempts if a["status"] == "succeeded")


def test_jobs_list_jsonl_is_one_object_per_line(session_cli, demo_home, demo_failed):
    r = session_cli.ok(*H(demo_home), "jobs", "list", "--failed", "--format", "jsonl")
    lines = r.out.splitlines()
    assert len(lines) == len(demo_failed)
    assert [json.loads(line) for line in lines] == demo_failed


def test_jobs_list_table(session_cli, demo_home, demo_failed):
    r = session_cli.ok(*H(demo_home), "jobs", "list", "--failed")
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["SUBMITTED", "JOB", "RUN"]
    assert "STATUS" in lines[0].split()
    assert len(lines) == 1 + len(demo_failed)
    assert [line.split()[2] for line in lines[1:]] == [a["run_id"] for a in demo_failed]
    assert "\x1b" not in r.out


def test_global_options_before_or_after_the_subcommand_agree(session_cli, demo_home):
    before = session_cli.ok(*H(demo_home), "jobs", "list", "--failed", "--format", "json")
    after = session_cli.ok("jobs", "list", "--failed", "--format", "json", *H(demo_home))
    by_env = session_cli.ok("jobs", "list", "--failed", "--format", "json", env={"MLOPS_CONSOLE_HOME": str(demo_home)})
    assert before.out == after.out == by_env.out
    assert json.loads(before.out)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--home", "/h"],
        ["--home=/h", "--read-only", "--as", "bob", "--seed", "3", "--demo", "--scale", "nodes=1", "--config", "c"],
        ["--ho", "/h"],  # argparse's abbreviations, as the whole parser takes them
    ],
)
def test_the_tuis_arguments_read_alone_mean_what_the_whole_parser_reads(argv):
    from console.parser import build_parser, parse_tui

    fast = parse_tui(argv)
    assert fast is not None and vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv", [["jobs", "list"], ["tui"], ["-h"], ["--seed", "x"], ["--hoem", "/h"], ["--s", "1"], ["--config"]]
)
def test_anything_but_the_tui_goes_to_the_whole_parser(argv):
    from console.parser import parse_tui

    assert parse_tui(argv) is None  # a subcommand, help, or a mistake that the whole parser explains


def test_jobs_list_filters(session_cli, demo_home, demo_attempts):
    limited = session_cli.ok(*H(demo_home), "jobs", "list", "--limit", "3", "--format", "json").json()
    assert limited == demo_attempts[:3]

    job = demo_attempts[-1]["job_id"]
    of_job = session_cli.ok(*H(demo_home), "jobs", "list", "--job", job, "--format", "json").json()
    assert of_job == [a for a in demo_attempts if a["job_id"] == job]

    # The clock is pinned at PINNED_NOW: 24h ago is 2026-11-19T12:00:00Z.
    recent = session_cli.ok(*H(demo_home), "jobs", "list", "--since", "24h", "--format", "json").json()
    expected = [a for a in demo_attempts if a["submitted_at"] >= "2026-11-19T12:00:00Z"]
    assert recent == expected
    assert 0 < len(recent) < len(demo_attempts)
    iso = session_cli.ok(*H(demo_home), "jobs", "list", "--since", "2026-11-19T12:00:00Z", "--format", "json")
    assert iso.json() == expected


# -- other listings -------------------------------------------------------------------------------------
def test_nodes_list(session_cli, demo_home):
    nodes = session_cli.ok(*H(demo_home), "nodes", "list", "--format", "json").json()
    assert len(nodes) == 40
    assert len({n["name"] for n in nodes}) == 40
    pools = {n["pool"] for n in nodes}
    assert len(pools) == 3
    gpu_pools = {n["pool"] for n in nodes if n["gpus"] > 0}
    assert len(gpu_pools) == 1
    assert all(n["status"].startswith(("Ready", "NotReady")) for n in nodes)

    gpu_pool = gpu_pools.pop()
    only = session_cli.ok(*H(demo_home), "nodes", "list", "--pool", gpu_pool, "--format", "json").json()
    assert only == [n for n in nodes if n["pool"] == gpu_pool]

    table = session_cli.ok(*H(demo_home), "nodes", "list").out.splitlines()
    assert table[0].split()[:3] == ["NAME", "POOL", "STATUS"]
    assert len(table) == 41


def test_rollouts_list(session_cli, demo_home):
    deps = session_cli.ok(*H(demo_home), "rollouts", "list", "--format", "json").json()
    import tomllib

    spec = {d["name"]: d for d in tomllib.loads((REPO / "fixtures" / "estate.toml").read_text())["deployments"]}
    assert sorted(d["name"] for d in deps) == sorted(spec)
    for d in deps:
        assert len(d["revisions"]) == len(spec[d["name"]]["versions"]), d
        assert d["current_revision"] in [r["number"] for r in d["revisions"]]
        # traffic is split between the live revisions and adds up to 100%
        assert sum(r["weight"] for r in d["revisions"]) == 100, d
    canaries = [d for d in deps if any(r["status"] == "canary" for r in d["revisions"])]
    assert len(canaries) >= 1
    c = canaries[0]
    canary = next(r for r in c["revisions"] if r["status"] == "canary")
    assert 0 < canary["weight"] < 100
    table = session_cli.ok(*H(demo_home), "rollouts", "list").out
    assert f"r{canary['number']} v{canary['model_version']} {canary['weight']}%" in table


def test_models_list_has_the_versions_the_deployments_serve(session_cli, demo_home):
    models = session_cli.ok(*H(demo_home), "models", "list", "--format", "json").json()
    deps = session_cli.ok(*H(demo_home), "rollouts", "list", "--format", "json").json()
    registered = {(m["model"], m["version"]): m for m in models}
    for d in deps:
        for rev in d["revisions"]:
            assert (rev["model"], rev["model_version"]) in registered
        active = next(r for r in d["revisions"] if r["number"] == d["current_revision"])
        assert registered[(active["model"], active["model_version"])]["stage"] == "production"
    name = models[0]["model"]
    one = session_cli.ok(*H(demo_home), "models", "list", "--model", name, "--format", "json").json()
    assert one and all(m["model"] == name for m in one)
    assert session_cli.ok(*H(demo_home), "models", "list").out.startswith("MODEL")


def test_audit_list_records_the_estate_creation(session_cli, demo_home):
    events = session_cli.ok(*H(demo_home), "audit", "list", "--format", "json").json()
    assert len(events) == 1
    e = events[0]
    assert e["verb"] == "create"
    assert e["object_ref"] == {"resource": "estate", "name": "demo"}
    assert e["after"]["nodes"] == 40
    assert e["prev_hash"] == "0" * 64 and len(e["hash"]) == 64
    assert e["timestamp"] == PINNED_NOW


# -- listings stream ------------------------------------------------------------------------------------
def _whole(records: list[dict], fmt: str, columns) -> str:
    """What the listings printed before they streamed: the whole list built, then written."""
    from console.output import _cell

    if fmt == "json":
        return json.dumps(records, indent=2, default=str) + "\n"
    if fmt == "jsonl":  # compact JSON lines, UTF-8
        import orjson

        return "".join(orjson.dumps(r, default=str).decode() + "\n" for r in records)
    headers = [h for h, _ in columns]
    rows = [[_cell(get(r)) for _, get in columns] for r in records]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    return "".join(
        "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in [headers, *rows]
    )


@pytest.fixture
def listing_engine(home_copy, clean_env):
    from console import settings
    from console.engine import Engine

    return Engine(settings.load({"home": str(home_copy)}))


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_streamed_listings_print_what_the_whole_lists_printed(listing_engine, fmt):
    import io

    from console.columns import ATTEMPT_COLUMNS, AUDIT_COLUMNS, NODE_COLUMNS
    from console.output import emit
    from core.types import to_dict

    e = listing_engine
    listings = {
        # the whole lists, through the calls that read everything first (a failure's triage looked up alone)
        "jobs": ([e.attempt_record(a) for a in e.attempts()], e.iter_attempt_records(), ATTEMPT_COLUMNS),
        "failed": (
            [e.attempt_record(a) for a in e.attempts(failed=True)],
            e.iter_attempt_records(failed=True),
            ATTEMPT_COLUMNS,
        ),
        "nodes": (
            [to_dict(n) | {"status": n.status} for n in e.nodes()],
            (to_dict(n) | {"status": n.status} for n in e.iter_nodes()),
            NODE_COLUMNS,
        ),
        "audit": ([to_dict(a) for a in e.audit_events()], (to_dict(a) for a in e.iter_audit_events()), AUDIT_COLUMNS),
    }
    for name, (whole, streamed, columns) in listings.items():
        assert len(whole) > (1 if name != "audit" else 0), name
        out = io.StringIO()
        # pages of 7 records: many pages, a last one cut short; a table is measured on its first page,
        # which holds every row of a listing shorter than a page (the default, 1,000)
        emit(streamed, fmt, columns, out, **({"page": 7} if fmt != "table" else {}))
        assert out.getvalue() == _whole(whole, fmt, columns), name


def test_a_streamed_json_array_of_nothing_is_still_an_array():
    import io

    from console.output import emit

    for fmt, text in (("json", "[]\n"), ("jsonl", ""), ("table", "A   B\n")):
        out = io.StringIO()
        emit(iter([]), fmt, [("A", lambda r: r["a"]), ("B", lambda r: r["b"])], out)
        assert out.getvalue() == text


def test_a_table_takes_its_widths_from_its_first_page():
    import io

    from console.output import table

    out = io.StringIO()
    table(["NAME", "N"], [["a", "1"], ["bb", "22"], ["a-much-longer-name", "3"], ["c", "4"]], out, page=2)
    assert out.getvalue().splitlines() == [
        "NAME   N",
        "a      1",
        "bb     22",
        "a-much-longer-name   3",  # wider than its column, measured on the first page: pushes on, never cut
        "c      4",
    ]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_a_listing_writes_each_page_before_it_reads_the_next(fmt):
    """Memory stays bounded: the listing pulls its records lazily, a page at a time, writing each page
    before it asks for the next — never the whole list at once."""
    import io

    from console.output import emit

    pulled = 0

    def records():
        nonlocal pulled
        for i in range(1000):
            pulled += 1
            yield {"a": i, "b": "x" * (i % 7)}

    pulled_at_write: list[int] = []

    class Out(io.StringIO):
        def write(self, s: str) -> int:
            pulled_at_write.append(pulled)
            return super().write(s)

    emit(records(), fmt, [("A", lambda r: r["a"]), ("B", lambda r: r["b"])], Out(), page=50)
    assert pulled == 1000
    first = next(n for n in pulled_at_write if n)
    assert first <= 51  # the first page, and perhaps the one record that showed it was full
    steps = [b - a for a, b in zip(pulled_at_write, pulled_at_write[1:], strict=False)]
    assert max(steps) <= 50  # never more than a page read between two writes


def test_the_engines_listing_reads_the_store_a_page_at_a_time(listing_engine, monkeypatch):
    """The first record comes from the first page of the store's rows: nothing reads the rest before it
    is wanted, and the whole listing is read in pages."""
    from console.services import jobs as jobs_service
    from core.store import Store

    e = listing_engine
    total = len(e.attempts())
    monkeypatch.setattr(jobs_service, "PAGE_SIZE", 5)
    pages_read: list[int] = []
    pages = Store.pages

    def counting_pages(self, sql, params=(), size=1000):
        for page in pages(self, sql, params, size):
            if "FROM attempts" in sql:  # (not the classifications read for a page's failures)
                pages_read.append(len(page))
            yield page

    monkeypatch.setattr(Store, "pages", counting_pages)
    records = e.iter_attempt_records()
    assert next(records)["run_id"] == e.attempts(limit=1)[0].run_id
    pages_read.clear()  # (the look at the first attempt above read a page of its own)
    records = e.iter_attempt_records()
    next(records)
    assert pages_read == [5]
    assert len(list(records)) == total - 1
    assert len(pages_read) == -(-total // 5) and set(pages_read[:-1]) == {5}


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_a_listing_whose_reader_goes_away_exits_quietly(session_cli, demo_home, fmt):
    """`mlops-console jobs list | head -1`: the pipe breaks mid-listing (the listing is several pipe
    buffers long); the console stops, says nothing, and exits 0 — as `sqlite3 -json … | head` does."""
    import subprocess
    import sys

    p = subprocess.Popen(
        [sys.executable, "-m", "console", *H(demo_home), "jobs", "list", "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=session_cli.env,
        cwd=session_cli.root,
    )
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.readline()
    p.stdout.close()  # the reader goes away
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0, err
    assert first.strip() and err == ""


# -- one attempt --------------------------------------------------------------------------------------
def test_jobs_show_yaml_and_json(session_cli, demo_home, demo_failed):
    rec = demo_failed[0]
    js = session_cli.ok(*H(demo_home), "jobs", "show", rec["run_id"], "--format", "json").json()
    assert js == rec
    y = session_cli.ok(*H(demo_home), "jobs", "show", rec["run_id"]).out
    assert f"run_id: {rec['run_id']}" in y.splitlines()
    assert "status: failed" in y.splitlines()
    assert f"job_id: {rec['job_id']}" in y.splitlines()


def test_jobs_logs_end_with_the_log_tail(session_cli, demo_home, demo_failed):
    rec = demo_failed[0]
    full = session_cli.ok(*H(demo_home), "jobs", "logs", rec["run_id"]).out
    assert full.rstrip("\n").endswith(strip_control(rec["log_tail"]))
    assert len(full.splitlines()) > len(rec["log_tail"].splitlines())
    tail = session_cli.ok(*H(demo_home), "jobs", "logs", rec["run_id"], "--tail", "5").out
    assert len(tail.splitlines()) == 5
    assert tail.splitlines() == full.splitlines()[-5:]
    # the same run's log is the same every time
    assert session_cli.ok(*H(demo_home), "jobs", "logs", rec["run_id"]).out == full


def test_version(session_cli, demo_home):
    out = session_cli.ok(*H(demo_home), "version").out
    info = dict(line.split(": ", 1) for line in out.splitlines())
    assert info["mlops-console"] == "0.1.0"
    assert info["schema"] == str(SCHEMA_VERSION)
    assert info["home"] == str(demo_home)
    assert info["backend"].startswith("sim:")


# -- exit codes and messages -------------------------------------------------------------------------
def assert_bad_input(r, *needles: str, one_line: bool = True) -> None:
    assert r.rc == 2, (r.rc, r.err)
    assert "Traceback" not in r.err, r.err
    assert r.out == ""
    lines = r.err.strip().splitlines()
    if one_line:
        assert len(lines) == 1, r.err
    assert lines[-1].startswith("mlops-console") and ": error: " in lines[-1], r.err
    for n in needles:
        assert n in lines[-1], (n, r.err)


@pytest.mark.parametrize(
    "args, needles",
    [
        (["jobs", "show", "r9999999"], ["r9999999"]),
        (["jobs", "logs", "r9999999"], ["r9999999"]),
        (["jobs", "list", "--since", "yesterday-ish"], ["--since", "yesterday-ish"]),
        (["jobs", "list", "--limit", "0"], ["--limit"]),
        (["--scale", "nodes=lots", "version"], ["--scale", "lots"]),
        (["--scale", "pods=3", "version"], ["--scale", "pods=3"]),
    ],
)
def test_bad_input_exits_2_with_one_line(session_cli, demo_home, args, needles):
    assert_bad_input(session_cli(*H(demo_home), *args), *needles)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["frobnicate"], "frobnicate"),
        (["jobs", "list", "--format", "xml"], "xml"),
        (["jobs", "list", "--limit", "many"], "many"),
    ],
)
def test_argparse_errors_exit_2_without_traceback(session_cli, demo_home, args, needle):
    assert_bad_input(session_cli(*H(demo_home), *args), needle, one_line=False)


@pytest.mark.parametrize(
    "text, needles",
    [
        ("seed = 42\nthis is not toml\n", ["line 2"]),
        ("colour = 'red'\n", ["'colour'"]),
        ("seed = 'many'\n", ["'seed'", "many"]),
        ("read_only = 'maybe'\n", ["'read_only'"]),
    ],
)
def test_bad_config_file_exits_2_naming_the_file(cli, tmp_path, demo_home, text, needles):
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    r = cli(*H(demo_home), "nodes", "list", env={"MLOPS_CONSOLE_CONFIG": str(cfg)})
    assert_bad_input(r, str(cfg), *needles)
    # the same file named by --config
    assert_bad_input(cli(*H(demo_home), "--config", str(cfg), "nodes", "list"), str(cfg), *needles)


def test_bad_environment_variable_exits_2(session_cli, demo_home):
    r = session_cli(*H(demo_home), "version", env={"MLOPS_CONSOLE_REFRESH_SECONDS": "abc"})
    assert_bad_input(r, "MLOPS_CONSOLE_REFRESH_SECONDS", "abc")


def test_unusable_home_exits_2(cli, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a directory\n")
    home = afile / "home"
    assert_bad_input(cli("--home", str(home), "nodes", "list"), str(home))
    assert afile.read_text() == "not a directory\n"


def test_garbage_store_exits_2(cli, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / DB_NAME).write_bytes(b"this is not an sqlite database " * 40)
    assert_bad_input(cli("--home", str(home), "jobs", "list"), str(home / DB_NAME))


def test_store_from_the_future_is_refused_and_left_alone(cli, home_copy):
    db = home_copy / DB_NAME
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (["version"], ["jobs", "list"], ["nodes", "list", "--format", "json"]):
        r = cli(*H(home_copy), *args)
        assert_bad_input(r, "99", str(db))
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    conn.close()


def test_other_scale_on_an_existing_home_exits_2(session_cli, demo_home):
    r = session_cli(*H(demo_home), "--scale", "nodes=10,jobs=100", "nodes", "list")
    assert_bad_input(r, "--scale", str(demo_home))


# -- untrusted text ---------------------------------------------------------------------------------
EVIL = (
    "\x1b[2J\x1b]0;pwned title\x07OOM\x1b[31mKilled\x1b[0m\r"
    "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\\x9b1mC1\x85"
)


@pytest.fixture
def evil_home(home_copy):
    """The demo estate plus one failed attempt whose fields carry terminal control sequences."""
    conn = sqlite3.connect(home_copy / SIM_DB)  # the cluster's attempts: the simulator's store
    row = conn.execute("SELECT * FROM attempts WHERE status = 'failed' ORDER BY submitted_at DESC LIMIT 1")
    cols = [c[0] for c in row.description]
    values = dict(zip(cols, row.fetchone(), strict=True))
    values.update(
        run_id="r-evil",
        submitted_at="2026-11-20T11:59:00Z",
        reason=EVIL,
        job_id="evil\x1b[8mjob",
        log_tail=values["log_tail"] + "\n" + EVIL + "\n[bold]not markup[/]",
    )
    conn.execute(
        f"INSERT INTO attempts({','.join(values)}) VALUES ({','.join('?' * len(values))})", list(values.values())
    )
    conn.commit()
    conn.close()
    return home_copy


def test_terminal_output_never_carries_control_sequences(cli, evil_home):
    table = cli.ok(*H(evil_home), "jobs", "list", "--limit", "3").out
    assert "r-evil" in table
    assert "\x1b" not in table and "\x9b" not in table and "\r" not in table
    assert "OOMKilled" in table
    shown = cli.ok(*H(evil_home), "jobs", "show", "r-evil").out
    assert "\x1b" not in shown and "\x9b" not in shown
    logs = cli.ok(*H(evil_home), "jobs", "logs", "r-evil").out
    assert "\x1b" not in logs and "\x9b" not in logs
    assert "click me" in logs and "[bold]not markup[/]" in logs
    # --raw is the documented way to get the bytes as stored
    raw = cli.ok(*H(evil_home), "jobs", "logs", "r-evil", "--raw").out
    assert "\x1b]0;pwned title\x07" in raw
    # JSON is data: it keeps the exact value (escaped by the JSON encoder)
    rec = cli.ok(*H(evil_home), "jobs", "show", "r-evil", "--format", "json").json()
    assert rec["reason"] == EVIL


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("\x1b[2Jcleared", "cleared"),
        ("\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\", "click"),
        ("\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07", "click"),
        ("\x1b]0;new title\x07after", "after"),
        ("\x1b]2;new title\x1b\\after", "after"),
        ("\x9b31mC1 csi", "C1 csi"),
        ("a\x85b\x90c", "abc"),
        ("progress 10%\rprogress 99%", "progress 10%progress 99%"),
        ("windows\r\nline", "windows\nline"),
        ("bell\x07 and null\x00 and del\x7f", "bell and null and del"),
        ("tab\tkept\nnewline kept", "tab\tkept\nnewline kept"),
        ("naïve — 日本語 🚀 Ωµ", "naïve — 日本語 🚀 Ωµ"),
        ("", ""),
    ],
)
def test_strip_control(raw, clean):
    assert strip_control(raw) == clean


@pytest.mark.parametrize(
    "s",
    [
        "[bold]x[/bold]",
        "[/]",
        "[red]",
        "[link=http://evil.example]y[/link]",
        "\\[bold]",
        "\x1b[31m[red]r\x1b[0m",
        "a [b] c [/b] d",
        "[@click=app.quit]quit[/]",
        "C:\\path\\to\\",
        "plain text",
        "日本 [i]語[/i] 🚀",
    ],
)
def test_safe_markup_renders_as_the_plain_text(s):
    # Embedded between tags, as a view would use it: the text comes out exactly, markup inert.
    embedded = Text.from_markup("[bold]" + safe_markup(s) + "[/bold]")
    assert embedded.plain == strip_control(s)
    assert [(sp.start, sp.end, sp.style) for sp in embedded.spans] == [(0, len(embedded.plain), "bold")]
    if not s.endswith("\\"):  # alone, Rich keeps the escaping backslash a trailing one needs
        assert Text.from_markup(safe_markup(s)).plain == strip_control(s)
