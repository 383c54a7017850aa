"""The classification engine: rule order is priority, all_of, fields, evidence with context, hostile
and huge input, and the same answer with and without Hyperscan."""

from __future__ import annotations

import io
import tracemalloc

import pytest

import autofix.classify as classify_mod
from autofix.classify import Classifier
from autofix.rules import RuleError, RuleSet, load_file, load_ruleset, parse_rules

RULES = r"""
[[rule]]
id = "yarn-physical-memory"
category = "memory_exceeded"
action = "retry_with_conf"
patterns = ['Container killed by YARN for exceeding memory limits\. (?P<used_gb>[0-9.]+) GB of (?P<limit_gb>[0-9.]+) GB physical memory used']
examples = ["Container killed by YARN for exceeding memory limits. 12.4 GB of 12 GB physical memory used"]

[[rule]]
id = "boto-access-denied"
category = "permission_denied"
action = "no_retry"
patterns = ['botocore\.exceptions\.ClientError: An error occurred \(AccessDenied\)']

[[rule]]
id = "executor-lost-on-spark"
category = "node_lost"
action = "retry"
patterns = ['ExecutorLostFailure']
all_of = ['(?i)spark']

[[rule]]
id = "python-traceback"
category = "user_code_error"
action = "no_retry"
patterns = ['^Traceback \(most recent call last\):']

[[rule]]
id = "needs-lookaround"
category = "timeout"
action = "retry_with_conf"
patterns = ['timed out(?! gracefully)']
"""


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier(RuleSet(parse_rules(RULES, "test.toml"), ["test.toml"]))


def test_first_rule_in_file_order_wins_wherever_it_matches(clf):
    doc = (
        'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\n'
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation\n"
    )
    c = clf.classify_text(doc)
    # the traceback comes first in the log, but the AccessDenied rule comes first in the file
    assert (c.category, c.rule_id, c.action) == ("permission_denied", "boto-access-denied", "no_retry")
    assert c.evidence.startswith("botocore.exceptions.ClientError")
    assert c.evidence_line == 3


def test_a_user_error_mentioning_permission_stays_a_user_error(clf):
    doc = "Traceback (most recent call last):\nValueError: invalid permission level 'admin' (AccessDenied is not a level)\n"
    assert clf.classify_text(doc).category == "user_code_error"


def test_fields_evidence_and_a_line_of_context(clf):
    doc = (
        "INFO starting\nWARN before it\n"
        "ERROR Container killed by YARN for exceeding memory limits. 12.4 GB of 12 GB physical memory used.\n"
        "INFO after it\n"
    )
    c = clf.classify_text(doc)
    assert c.fields == {"used_gb": "12.4", "limit_gb": "12"}
    assert c.context == ["WARN before it", c.evidence, "INFO after it"]
    assert c.evidence_line == 3


def test_all_of_must_also_match_somewhere(clf):
    assert clf.classify_text("ExecutorLostFailure (executor 7 exited)\n").category == "unclassified"
    c = clf.classify_text("org.apache.spark.SparkException: boom\nExecutorLostFailure (executor 7 exited)\n")
    assert (c.category, c.evidence_line) == ("node_lost", 2)


def test_nothing_matches_is_unclassified_without_an_action(clf):
    c = clf.classify_text("Process exited with code 3\n")
    assert (c.category, c.rule_id, c.action, c.evidence) == ("unclassified", None, None, None)


def test_patterns_hyperscan_cannot_take_still_work(clf):
    assert clf.unaccelerated == ["timed out(?! gracefully)"]
    assert clf.classify_text("the request timed out\n").category == "timeout"
    assert clf.classify_text("the request timed out gracefully\n").category == "unclassified"


def test_invalid_utf8_and_binary_are_read_with_replacement(clf):
    data = (
        b"\xff\xfe\x00garbage\x80\n" + bytes(range(256)) + b"\nContainer killed by YARN for exceeding memory limits."
        b" 3 GB of 2 GB physical memory used \xc3\x28\n"
    )
    c = clf.classify_stream(io.BytesIO(data))
    assert c.category == "memory_exceeded" and "\ufffd" in c.evidence


def test_a_50_mb_single_line_costs_bounded_memory(clf):
    class Stream(io.RawIOBase):  # 50 MB of one line, then the failure: never held whole in memory
        def __init__(self):
            self.left, self.tail = (
                50 << 20,
                b"\nContainer killed by YARN for exceeding memory limits. 9 GB of 8 GB physical memory used\n",
            )

        def readable(self):
            return True

        def readinto(self, b):
            if self.left > 0:
                n = min(len(b), self.left)
                b[:n] = b"x" * n
                self.left -= n
                return n
            n = len(self.tail[: len(b)])
            b[:n], self.tail = self.tail[:n], self.tail[n:]
            return n

    tracemalloc.start()
    try:
        c = clf.classify_stream(io.BufferedReader(Stream(), 1 << 16))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert c.fields == {"used_gb": "9", "limit_gb": "8"}
    assert peak < 40 << 20, f"peak {peak / 1e6:.1f} MB"


def test_chunk_boundaries_do_not_lose_matches_or_context(clf, monkeypatch):
    monkeypatch.setattr(classify_mod, "CHUNK", 64)  # many tiny chunks
    lines = [f"noise line {i}" for i in range(40)]
    lines[25] = "ERROR Container killed by YARN for exceeding memory limits. 5 GB of 4 GB physical memory used"
    c = clf.classify_text("\n".join(lines) + "\n")
    assert c.evidence_line == 26
    assert c.context == ["noise line 24", lines[25], "noise line 26"]


def test_without_hyperscan_the_answers_are_the_same(clf, monkeypatch):
    docs = [
        "Traceback (most recent call last):\nbotocore.exceptions.ClientError: An error occurred (AccessDenied) x\n",
        "spark\nExecutorLostFailure\n",
        "nothing\n",
        "Container killed by YARN for exceeding memory limits. 1 GB of 2 GB physical memory used\n",
    ]
    expected = [clf.classify_text(d).to_dict() for d in docs]
    monkeypatch.setattr(classify_mod, "_compile_hyperscan", lambda patterns: (None, list(range(len(patterns)))))
    plain = Classifier(clf.ruleset)
    assert [plain.classify_text(d).to_dict() for d in docs] == expected


@pytest.mark.parametrize(
    "text, needle",
    [
        (
            '[[rule]]\nid = "a"\ncategory = "memory_exceeded"\naction = "retry"\npatterns = ["(unclosed"]\n',
            "rule 'a': invalid regex",
        ),
        (
            '[[rule]]\nid = "a"\ncategory = "out_of_coffee"\naction = "retry"\npatterns = ["x"]\n',
            "rule 'a': unknown category",
        ),
        ('[[rule]]\nid = "a"\ncategory = "timeout"\naction = "pray"\npatterns = ["x"]\n', "rule 'a': unknown action"),
        (
            '[[rule]]\nid = "a"\ncategory = "timeout"\naction = "retry"\npatterns = ["x"]\n' * 2,
            "rule 'a': duplicate id",
        ),
        ('[[rule]]\nid = "a"\ncategory = "timeout"\naction = "retry"\n', "rule 'a': missing field 'patterns'"),
        ('[[rule]]\ncategory = "timeout"\naction = "retry"\npatterns = ["x"]\n', "rule #1: missing field 'id'"),
        ('[[rule]\nid = "a"\n', "invalid TOML"),
    ],
)
def test_bad_rule_files_name_the_file_the_rule_and_the_problem(text, needle, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(RuleError) as e:
        load_file(path)
    assert str(path) in str(e.value) and needle in str(e.value)


def test_user_rules_come_before_built_in_ones(tmp_path):
    user = tmp_path / "rules.toml"
    user.write_text('[[rule]]\nid = "mine"\ncategory = "timeout"\naction = "retry"\npatterns = ["OutOfMemoryError"]\n')
    rs = load_ruleset(user)
    assert rs.rules[0].id == "mine" and len(rs.rules) > 60
    assert Classifier(rs).classify_text("java.lang.OutOfMemoryError: Java heap space\n").rule_id == "mine"
    assert rs.digest != load_ruleset(None).digest


# -- the built-in rules on the cases the issue names --------------------------------------------------
@pytest.fixture(scope="module")
def builtin() -> Classifier:
    return Classifier(load_ruleset(None))


def test_builtin_permission_error_inside_a_traceback_is_permission_denied(builtin):
    doc = (
        'Traceback (most recent call last):\n  File "/app/job.py", line 12, in <module>\n'
        "    obj = s3.get_object(Bucket=b, Key=k)\n"
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject "
        "operation: Access Denied\n"
    )
    assert builtin.classify_text(doc).category == "permission_denied"


def test_builtin_user_bug_that_mentions_permission_is_user_code_error(builtin):
    doc = (
        'Traceback (most recent call last):\n  File "/app/roles.py", line 40, in check\n'
        "ValueError: invalid permission level 'admin' for role 'reader'\n"
    )
    assert builtin.classify_text(doc).category == "user_code_error"


def test_builtin_yarn_memory_kill_extracts_used_and_limit(builtin):
    doc = (
        "termination: reason=Error exit_code=1\n"
        "WARN YarnAllocator: Container killed by YARN for exceeding physical memory limits. "
        "12.4 GB of 12 GB physical memory used. Consider boosting spark.executor.memoryOverhead.\n"
        "ERROR YarnScheduler: Lost executor 3 on host-1: ExecutorLostFailure (executor 3 exited)\n"
    )
    c = builtin.classify_text(doc)
    assert (c.category, c.action) == ("memory_exceeded", "retry_with_conf")
    assert c.fields.get("used_gb") == "12.4" and c.fields.get("limit_gb") == "12"


# -- signatures ----------------------------------------------------------------------------------------
def test_signatures_mask_what_varies_and_the_regex_matches_the_originals():
    import re

    from autofix.signatures import regex_for, signature

    a = "2026-11-20T03:14:07Z ERROR sync: Failed to commit batch 42 to ip-10-3-4-5.ec2.internal at /data/x/y (id 9f8e7d6c5b4a)"
    b = "2026-11-21T09:00:00Z ERROR sync: Failed to commit batch 7 to ip-10-9-9-9.ec2.internal at /data/z/w (id 0a1b2c3d4e5f)"
    assert signature(a) == signature(b) == "Failed to commit batch <NUM> to <HOST> at <PATH> (id <HEX>)"
    rx = re.compile(regex_for(signature(a)))
    assert rx.search(a) and rx.search(b) and not rx.search("Failed to commit batch x to y")
    # the telling line is the failure, not the noise after it
    assert signature("INFO start\nFATAL core: invariant 3 failed\nINFO flushing logs\n") == "invariant <NUM> failed"


def test_collector_document_is_bounded_and_carries_termination_and_events(tmp_path, monkeypatch):
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_NOW", "2026-11-20T12:00:00Z")
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    engine = Engine(load({"home": str(tmp_path / "h")}))
    triage = engine._w.triage  # the collector inside the triage: what the rules read
    triage.tail_lines = 3
    failed = engine.attempts(failed=True)
    oom = next(a for a in failed if a.reason == "OOMKilled")
    doc = triage.document(oom).splitlines()
    assert doc[0] == f"termination: reason=OOMKilled exit_code={oom.exit_code}"
    assert any(line.startswith("event: Warning OOMKilling") for line in doc)
    assert doc[-3:] == oom.log_tail.splitlines()[-3:]
    assert len([ln for ln in doc if not ln.startswith(("termination:", "event:"))]) == 3


def test_one_classifier_serves_several_threads_at_once(clf):
    """The TUI classifies from several workers (the dashboard's count, a view's rows) with one classifier."""
    from concurrent.futures import ThreadPoolExecutor

    log = "INFO start\n" * 20_000 + (
        "botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling the GetObject operation\n"
    )
    want = clf.classify_text(log).rule_id
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: clf.classify_text(log).rule_id, range(40)))
    assert want is not None and got == [want] * 40


# Which memory ran out, as Spark 3.x prints it on YARN, on Kubernetes and from PySpark: every application
# log opens with the SparkContext banner, which says nothing about where memory ran out.
BANNER = (
    "24/11/20 11:01:02 INFO SparkContext: Running Spark version 3.5.3\n"
    "24/11/20 11:01:02 INFO SparkContext: Submitted application: etl-daily\n"
    "24/11/20 11:01:03 INFO ResourceUtils: No custom resources configured for spark.driver.\n"
)
DIALECTS = {
    "executor heap under the banner": (
        "24/11/20 11:04:10 ERROR Executor: Exception in task 3.0 in stage 2.0 (TID 41)\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
        "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n"
        "24/11/20 11:04:10 WARN TaskSetManager: Lost task 3.0 in stage 2.0 (TID 41) (ip-10-0-0-12.ec2.internal "
        "executor 7): java.lang.OutOfMemoryError: Java heap space\n",
        "executor_heap",
        "heap",
    ),
    "YARN container kill": (
        "24/11/20 11:04:10 WARN YarnSchedulerBackend$YarnSchedulerEndpoint: Requesting driver to remove executor 7 "
        "for reason Container killed by YARN for exceeding physical memory limits. 12.1 GB of 12 GB physical "
        "memory used. Consider boosting spark.executor.memoryOverhead.\n"
        "24/11/20 11:04:10 ERROR YarnScheduler: Lost executor 7 on ip-10-0-0-12.ec2.internal: Container killed by "
        "YARN for exceeding physical memory limits. 12.1 GB of 12 GB physical memory used. Consider boosting "
        "spark.executor.memoryOverhead.\n",
        "executor_container",
        "overhead",
    ),
    "Kubernetes OOMKilled executor": (
        "24/11/20 11:04:10 ERROR TaskSchedulerImpl: Lost executor 3 on 10.244.1.17: The executor with id 3 exited "
        "with exit code 137(SIGKILL, possible container OOM).\n"
        "The API gave the following container statuses:\n\n"
        "\t container name: spark-kubernetes-executor\n"
        "\t container image: apache/spark:3.5.3\n"
        "\t container state: terminated\n"
        "\t exit code: 137\n"
        "\t termination reason: OOMKilled\n",
        "executor_container",
        "overhead",
    ),
    "driver heap": (
        "24/11/20 11:04:10 ERROR Utils: Uncaught exception in thread task-result-getter-2\n"
        "java.lang.OutOfMemoryError: Java heap space\n"
        'Exception in thread "task-result-getter-2" java.lang.OutOfMemoryError: Java heap space\n',
        "driver_heap",
        "driver",
    ),
    "maxResultSize": (
        "24/11/20 11:04:10 ERROR TaskSetManager: Total size of serialized results of 1234 tasks (1024.1 MiB) is "
        "bigger than spark.driver.maxResultSize (1024.0 MiB)\n",
        "driver_result",
        "driver_result",
    ),
    "PySpark worker": (
        "24/11/20 11:04:10 WARN TaskSetManager: Lost task 5.0 in stage 1.0 (TID 17) (10.244.1.17 executor 2): "
        "org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
        '  File "/opt/spark/python/lib/pyspark.zip/pyspark/worker.py", line 1247, in main\n'
        "    process()\n"
        '  File "/opt/spark/work-dir/jobs/features.py", line 88, in embed\n'
        "    table = np.stack(rows)\n"
        "MemoryError\n",
        "pyspark_worker",
        "overhead",
    ),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_which_memory_ran_out_is_the_triages_reading_for_each_spark_dialect(dialect):
    from autofix.classify import Classifier
    from autofix.components import builtin_components
    from autofix.features import memory_kind
    from autofix.rules import load_ruleset

    log, component, kind = DIALECTS[dialect]
    c = Classifier(load_ruleset(None)).classify_text(BANNER + log)
    assert (c.category, c.component) == ("memory_exceeded", component), c.rule_id
    record = {"status": "failed", "log_tail": BANNER + log, "kind": "spark", "job_id": "j", "run_id": "r"}
    record["component"] = builtin_components()(record)
    assert memory_kind(record) == kind


def test_the_compiled_rules_are_kept_for_the_next_start_and_a_damaged_copy_is_compiled_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_CONSOLE_CACHE", str(tmp_path))
    compiled = []
    real = classify_mod._compile_each
    monkeypatch.setattr(classify_mod, "_compile_each", lambda patterns: compiled.append(1) or real(patterns))
    rules = load_ruleset(None)
    log = "26/11/20 WARN TaskSetManager: Lost task 3.0 (executor 7): java.lang.OutOfMemoryError: Java heap space"
    first = Classifier(rules).classify_text(log)
    assert len(compiled) == 1 and first.rule_id == "jvm-heap-space"
    assert Classifier(rules).classify_text(log) == first and len(compiled) == 1  # read back, not compiled
    (db,) = tmp_path.glob("hyperscan-*.db")
    blob = bytearray(db.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    db.write_bytes(bytes(blob))  # a copy changed on disk is never trusted
    assert Classifier(rules).classify_text(log) == first and len(compiled) == 2
    assert Classifier(rules).classify_text(log) == first and len(compiled) == 2  # and it was written again
