"""The Kubernetes backend at scale: N nodes and M pods in the API emulator (tests/kubeemu.py, over HTTP on
127.0.0.1), read by the console the two ways it reads them, beside `kubectl get pods -A -o json` reading
the same objects from the same server in the same run.

    .venv/bin/python bench/kube.py [--nodes 10000] [--pods 100000] [--rounds 1]

Each measure is a fresh process (its start, the client's import and the connection included), timed from
its spawn to its end, with its peak RSS (wait4):
  list     the CLI's way: `nodes list -o json` (every node, and every pod for the nodes' use)
  cache    the TUI's way: a KubeCluster with its watch cache, until every resource is listed and watched
  kubectl  `kubectl get pods -A -o json` (the anchor: the pods alone)
The emulator is the server for both; its own cost is in every number alike (it serves a 500-pod page in
~20 ms). Goal (issue 18): hold 10,000 nodes and 100,000 pods, memory bounded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

CACHE = r"""
import sys, time
from core.backends.kube.cluster import KubeCluster
from core.backends.kube.connection import Target, connect
c = KubeCluster(connect(Target(sys.argv[1])), watch=True)
while not all(i.synced.is_set() for i in c.informers.values()):
    time.sleep(0.01)
print(sum(len(i.items) for i in c.informers.values()))
c.close()
"""


TIME = "/usr/bin/time"  # GNU time: see measure()


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """A child forked from this process (which holds the emulator's objects) would report this process's
    size as its peak RSS (the pages before its exec count): GNU time, small once exec'd, forks the
    command and reports its own child's."""
    rss_file = Path(tempfile.mktemp(prefix="rss-"))
    wrapped = [TIME, "-f", "%M", "-o", str(rss_file), *cmd] if os.path.exists(TIME) else cmd
    t0 = time.perf_counter()
    p = subprocess.run(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=REPO)
    total = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{cmd[:4]}… failed: {p.stderr.decode(errors='replace')[-1500:]}")
    rss = float(rss_file.read_text().split()[-1]) / 1024 if rss_file.exists() else float("nan")
    rss_file.unlink(missing_ok=True)
    return {"total": total, "rss": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()

    import kube_objects as k
    from kubeemu import KubeEmulator

    tmp = Path(tempfile.mkdtemp(prefix="bench-kube-"))
    env = {k_: v for k_, v in os.environ.items() if not k_.startswith("MLOPS_CONSOLE_")}
    env.update(MLOPS_CONSOLE_CONFIG=str(tmp / "none.toml"), PYTHONPATH=str(REPO), HOME=str(tmp))
    with KubeEmulator() as emu:
        t = time.perf_counter()
        import gc

        gc.disable()  # building 100,000 dicts: the collector would walk them again and again
        nodes = [k.node(f"node-{i:05d}", gpus=4 if i % 10 == 0 else 0) for i in range(args.nodes)]
        pods = [
            k.pod(
                f"p-{i:06d}",
                f"ns-{i % 50}",
                f"node-{i % args.nodes:05d}",
                owner_kind="ReplicaSet",
                owner_name=f"rs-{i % 997}",
            )
            for i in range(args.pods)
        ]
        gc.enable()
        for start in range(0, len(nodes) + len(pods), 5000):
            emu.add(*(nodes + pods)[start : start + 5000])
        print(
            f"loaded {args.nodes:,} nodes and {args.pods:,} pods into the emulator in {time.perf_counter() - t:.1f} s (untimed)"
        )
        config = str(emu.kubeconfig(tmp / "kubeconfig", namespace="default"))
        kubectl = str(Path(sys.executable).parent / "kubectl")
        runs: dict[str, list[dict[str, float]]] = {"list": [], "cache": [], "kubectl": []}
        cmds = {
            "list": [
                sys.executable,
                "-m",
                "console",
                "--home",
                str(tmp / "home"),
                "--kubeconfig",
                config,
                "nodes",
                "list",
                "-o",
                "json",
            ],
            "cache": [sys.executable, "-c", CACHE, config],
            "kubectl": [
                kubectl,
                f"--kubeconfig={config}",
                f"--cache-dir={tmp / 'kcache'}",
                "get",
                "pods",
                "-A",
                "-o",
                "json",
            ],
        }
        measure(cmds["list"], env)  # untimed: the home's first start
        for _ in range(args.rounds):
            for name, cmd in cmds.items():
                runs[name].append(measure(cmd, env))

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    anchor = med("kubectl", "total")
    print(f"rounds: {args.rounds} (medians); each a fresh process; ratios to kubectl's total")
    labels = {
        "list": "console, nodes list -o json (no cache)",
        "cache": "console, watch cache listed and watching",
        "kubectl": "kubectl get pods -A -o json (anchor)",
    }
    for name, label in labels.items():
        print(
            f"{label:44s} {med(name, 'total'):8.2f} s  {med(name, 'total') / anchor:5.2f}x  peak RSS {med(name, 'rss'):6.0f} MiB"
        )


if __name__ == "__main__":
    main()
