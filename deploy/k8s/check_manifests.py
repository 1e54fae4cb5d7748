#!/usr/bin/env python3
"""Checks rendered manifests (`kubectl kustomize deploy/k8s`) beyond their schema.

Usage: check_manifests.py RAGPERF RENDERED.yaml [RENDERED.yaml ...]

- Every ragperf command line (a container of the ragperf image with no `command`, so the image's
  entrypoint is ragperf) names a subcommand and flags that `RAGPERF <sub> --help` lists.
- Every $(NAME) in a container's command or args is declared in its env or envFrom: Kubernetes
  passes an undeclared one literally.
- Every pod runs as non-root; every container drops privileges, has a read-only root file system
  and both requests and limits; every ConfigMap and claim a pod mounts is rendered.

Exit 1 when a check fails.
"""

import re
import subprocess
import sys

import yaml

REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
FLAG_IN_HELP = re.compile(r"(?:^|[\s,\[])(--[a-z0-9][a-z0-9-]*|-[A-Za-z])(?=[\s,=\]<]|$)", re.M)
NUMBER = re.compile(r"-?[0-9.]+")


class Helps:
    """`ragperf <sub> --help`, asked once per subcommand."""

    def __init__(self, ragperf):
        self.ragperf = ragperf
        self.cache = {}

    def flags(self, sub):
        """The flags `sub --help` lists, or None when the subcommand does not exist."""
        if sub not in self.cache:
            p = subprocess.run(
                [self.ragperf, sub, "--help"], capture_output=True, text=True, check=False
            )
            self.cache[sub] = set(FLAG_IN_HELP.findall(p.stdout)) if p.returncode == 0 else None
        return self.cache[sub]


def pod_specs(doc):
    """(where, pod spec) of a workload: Deployment, Job, Pod..."""
    kind = doc.get("kind", "")
    name = doc.get("metadata", {}).get("name", "?")
    spec = doc.get("spec", {})
    if kind == "Pod":
        yield f"Pod {name}", spec
    elif "template" in spec:
        yield f"{kind} {name}", spec["template"].get("spec", {})


def check(ragperf, docs):
    helps = Helps(ragperf)
    config_maps = {
        d["metadata"]["name"]: set((d.get("data") or {}).keys())
        for d in docs
        if d.get("kind") == "ConfigMap"
    }
    claims = {d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"}
    failures, lines = [], 0
    for doc in docs:
        for where, spec in pod_specs(doc):
            for v in spec.get("volumes") or []:
                cm = (v.get("configMap") or {}).get("name")
                pvc = (v.get("persistentVolumeClaim") or {}).get("claimName")
                if cm is not None and cm not in config_maps:
                    failures.append(
                        f"{where}: volume {v['name']} names ConfigMap {cm}, not rendered"
                    )
                if pvc is not None and pvc not in claims:
                    failures.append(f"{where}: volume {v['name']} claims {pvc}, not rendered")
            ctx = spec.get("securityContext") or {}
            if ctx.get("runAsNonRoot") is not True:
                failures.append(f"{where}: securityContext.runAsNonRoot is not true")
            containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
            for c in containers:
                at = f"{where}, container {c['name']}"
                sc = c.get("securityContext") or {}
                for key, want in (
                    ("allowPrivilegeEscalation", False),
                    ("readOnlyRootFilesystem", True),
                ):
                    if sc.get(key) is not want:
                        failures.append(f"{at}: securityContext.{key} is not {str(want).lower()}")
                if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                    failures.append(f"{at}: securityContext.capabilities.drop lacks ALL")
                res = c.get("resources") or {}
                for part in ("requests", "limits"):
                    if not {"cpu", "memory"} <= set((res.get(part) or {}).keys()):
                        failures.append(f"{at}: resources.{part} needs cpu and memory")
                declared = {e["name"] for e in c.get("env") or []}
                for src in c.get("envFrom") or []:
                    ref = (src.get("configMapRef") or {}).get("name")
                    if ref is not None:
                        if ref not in config_maps:
                            failures.append(f"{at}: envFrom names ConfigMap {ref}, not rendered")
                        declared |= config_maps.get(ref, set())
                argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
                for a in argv:
                    for var in REF.findall(a):
                        if var not in declared:
                            failures.append(
                                f"{at}: $({var}) in `{a}` is not in its env or envFrom, so "
                                "Kubernetes passes it unexpanded"
                            )
                if c.get("command"):
                    if any("ragperf" in a.split("/")[-1] for a in c["command"]):
                        failures.append(
                            f"{at}: runs ragperf through `command`; use the image's entrypoint "
                            "(args only) so this check can read the command line"
                        )
                    continue
                lines += 1
                failures += check_line(helps, at, [str(a) for a in c.get("args") or []])
    return failures, lines


def check_line(helps, at, args):
    """The failures of one ragperf command line."""
    if not args or args[0].startswith("-"):
        return [f"{at}: no ragperf subcommand in args {args}"]
    sub, rest = args[0], args[1:]
    shown = f"{at}: ragperf {' '.join(args)}"
    known = helps.flags(sub)
    if known is None:
        return [f"{shown}\n    `ragperf {sub}` is not a subcommand of this binary"]
    failures = []
    for a in rest:
        if not a.startswith("-") or a == "--" or NUMBER.fullmatch(a):
            continue
        flag = a.split("=", 1)[0]
        if flag not in known:
            failures.append(f"{shown}\n    {flag} is not listed by `ragperf {sub} --help`")
    return failures


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    ragperf, docs = sys.argv[1], []
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    failures, lines = check(ragperf, docs)
    # Several renders of the same manifests repeat the same findings: print each once.
    failures = list(dict.fromkeys(failures))
    for f in failures:
        print(f"FAIL {f}")
    print(
        f"check_manifests: {len(docs)} objects, {lines} ragperf command lines: "
        f"{len(failures)} failed"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
