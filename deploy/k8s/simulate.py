#!/usr/bin/env python3
"""Runs the rendered manifests' own command lines as local processes, on loopback: the cluster
without the cluster.

Usage: simulate.py RAGPERF RENDERED.yaml

What Kubernetes would do, done here: the ConfigMap ragperf-run becomes each container's
environment (with a small, short load: 2 shards, 8 users, 2 s, time scale 0.1, START_AT a few
seconds ahead), $(VAR) references are expanded by Kubernetes' rules, the image's entrypoint is
RAGPERF, /results and /scripts are folders of a temporary directory, and the Service names
resolve to the mock started from the Deployment's args on free loopback ports. Then: the mock,
every shard of the Indexed Job at once (JOB_COMPLETION_INDEX 0..N-1), then the merge Job's init
containers in order and its container. Checks that each exits 0, that every shard's and the
merged result.json is final, that the merge counted every shard's requests, and that the report
was rendered.

Exit 1 when a step fails or the merged counts are not the shards' sum.
Exit 1 when a step fails.
"""

import datetime
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SMALL = {
    "RUN_ID": "sim",
    "SHARDS": "2",
    "CONCURRENCY": "8",
    "DURATION": "2s",
    "TIME_SCALE": "0.1",
    "VARIANT": "async",
    "WAIT_TIMEOUT_S": "120",
}


def expand(arg, env):
    """Kubernetes' $(VAR) expansion: $$ is a literal $, an unknown $(VAR) stays as it is."""

    def one(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return REF.sub(one, arg)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find(docs, kind, name):
    for d in docs:
        if d.get("kind") == kind and d["metadata"]["name"].startswith(name):
            return d
    raise SystemExit(f"simulate: no {kind} {name} in the rendered manifests")


class Sim:
    def __init__(self, ragperf, docs, tmp):
        self.ragperf, self.docs, self.tmp = os.path.abspath(ragperf), docs, tmp
        self.failures = []

    def path(self, arg):
        """/results and /scripts are folders of the temporary directory."""
        for root in ("/results", "/scripts"):
            if arg == root or arg.startswith(root + "/"):
                return self.tmp + arg
        return arg

    def argv(self, container, env):
        cmd = [expand(a, env) for a in container.get("command") or []]
        args = [expand(a, env) for a in container.get("args") or []]
        if not cmd:
            cmd = [self.ragperf]
        return [self.path(a) for a in cmd + args]

    def env(self, container, base, extra=None):
        env = dict(os.environ)
        env.update(base)
        env.update(extra or {})
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = expand(e["value"], env)
        return env

    def run(self, what, argv, env, timeout):
        print(f"simulate: {what}: {' '.join(argv)}")
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            self.failures.append(f"{what} exited {p.returncode}:\n{p.stdout}{p.stderr}")
        return p

    def final(self, what, result):
        try:
            with open(result, encoding="utf-8") as f:
                r = json.load(f)
        except (OSError, ValueError) as e:
            self.failures.append(f"{what}: no readable {result}: {e}")
            return None
        if r.get("partial") is not False:
            self.failures.append(f"{what}: {result} is partial")
        return r


def ok_count(result):
    return sum(run["counters"]["ok"] for run in result["runs"])


def simulate(ragperf, docs, tmp):
    sim = Sim(ragperf, docs, tmp)
    config = dict(find(docs, "ConfigMap", "ragperf-run")["data"])
    config.update(SMALL)
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=8)
    config["START_AT"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    qdrant, bedrock = free_port(), free_port()
    config["QDRANT_URL"] = f"http://127.0.0.1:{qdrant}"
    config["BEDROCK_URL"] = f"http://127.0.0.1:{bedrock}"
    scripts = find(docs, "ConfigMap", "ragperf-scripts")["data"]
    os.makedirs(f"{tmp}/scripts")
    for name, text in scripts.items():
        with open(f"{tmp}/scripts/{name}", "w", encoding="utf-8") as f:
            f.write(text)
    os.makedirs(f"{tmp}/results")

    mock_c = find(docs, "Deployment", "ragperf-mock")["spec"]["template"]["spec"]["containers"][0]
    env = sim.env(mock_c, config)
    argv = sim.argv(mock_c, env)
    argv = [
        a.replace("0.0.0.0:6333", f"127.0.0.1:{qdrant}").replace(
            "0.0.0.0:8000", f"127.0.0.1:{bedrock}"
        )
        for a in argv
    ]
    print(f"simulate: mock: {' '.join(argv)}")
    mock = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        probe = mock_c["readinessProbe"]["httpGet"]["path"]
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{config['BEDROCK_URL']}{probe}", timeout=1):
                    break
            except OSError:
                if mock.poll() is not None:
                    raise SystemExit(f"simulate: the mock exited: {mock.stderr.read()}")
                time.sleep(0.1)
        shards_job = find(docs, "Job", "ragperf-shards")
        shard_c = shards_job["spec"]["template"]["spec"]["containers"][0]
        n = int(config["SHARDS"])
        procs = []
        for i in range(n):
            env = sim.env(shard_c, config, {"JOB_COMPLETION_INDEX": str(i)})
            argv = sim.argv(shard_c, env)
            print(f"simulate: shard {i}: {' '.join(argv)}")
            procs.append(
                subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            )
        shard_ok = 0
        for i, p in enumerate(procs):
            out, _ = p.communicate(timeout=180)
            if p.returncode != 0:
                sim.failures.append(f"shard {i} exited {p.returncode}:\n{out.decode()}")
            r = sim.final(f"shard {i}", f"{tmp}/results/sim/shards/shard-{i}/result.json")
            if r:
                shard_ok += ok_count(r)
        merge_spec = find(docs, "Job", "ragperf-merge")["spec"]["template"]["spec"]
        for c in merge_spec.get("initContainers", []) + merge_spec["containers"]:
            env = sim.env(c, config)
            sim.run(f"merge job, {c['name']}", sim.argv(c, env), env, timeout=300)
        merged = sim.final("merge", f"{tmp}/results/sim/merged/result.json")
        if merged and ok_count(merged) != shard_ok:
            sim.failures.append(
                f"merge: {ok_count(merged)} ok requests, the shards had {shard_ok} together"
            )
        if not os.path.exists(f"{tmp}/results/sim/merged/index.html"):
            sim.failures.append("report: no index.html beside the merged result")
        if shard_ok == 0:
            sim.failures.append("the shards completed no request")
        print(f"simulate: {n} shards, {shard_ok} requests ok in all")
    finally:
        mock.send_signal(signal.SIGINT)
        try:
            mock.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mock.kill()
    return sim.failures


def main():
    if len(sys.argv) != 3:
        print("usage: simulate.py RAGPERF RENDERED.yaml", file=sys.stderr)
        return 2
    ragperf = sys.argv[1]
    with open(sys.argv[2], encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    with tempfile.TemporaryDirectory() as tmp:
        failures = simulate(ragperf, docs, tmp)
    for f in failures:
        print(f"FAIL {f}")
    print(f"simulate: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
