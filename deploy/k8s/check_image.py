#!/usr/bin/env python3
"""What can be checked of deploy/k8s/Dockerfile without a container engine.

Usage: check_image.py RAGPERF_BINARY   (run from the repository root)

1. The build context (/.dockerignore, an allowlist) holds what the build needs: the workspace
   loads from it (`cargo metadata --locked --offline` on a copy of exactly that context), every
   include_bytes!/include_str! of the crates' sources is in it, and target/ and reports/ are not.
2. Builder and runtime stages are the same Debian release, so glibc matches.
3. The binary's shared libraries (ldd) come from Debian packages that every Debian image of that
   release has (essential packages and what they depend on), and the newest glibc symbol version
   it needs is no newer than that release's glibc; every apt-get pin (tini=VERSION) is a
   version that release has. This part needs a Debian host of the same release (it reads the
   host's dpkg database and apt lists); elsewhere it says so and skips.

Exit 1 when a check fails.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

DOCKERFILE = "deploy/k8s/Dockerfile"
DOCKERIGNORE = ".dockerignore"
# Files the build needs from the context besides the sources (Cargo.toml declares the bench).
NEEDED = [
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "mock_services/Cargo.toml",
    "benches/bench_main.rs",
]
# What must stay out of the context.
KEPT_OUT = ["target/release/ragperf", "reports/latest/result.json", "mock_services/target/x"]


def ignore_patterns():
    pats = []
    with open(DOCKERIGNORE, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pat = os.path.normpath(line[1:] if negate else line).lstrip("/")
            pats.append((negate, pat))
    return pats


def glob_re(pat):
    """Docker's pattern syntax (Go filepath.Match, plus ** for any depth)."""
    out, i = "", 0
    while i < len(pat):
        if pat.startswith("**", i):
            out += ".*"
            i += 2
        elif pat[i] == "*":
            out += "[^/]*"
            i += 1
        elif pat[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pat[i])
            i += 1
    return re.compile(out + "$")


def ignored(path, pats):
    """Docker's rule: the last pattern that matches the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for negate, pat in pats:
        rx = glob_re(pat)
        if any(rx.match(p) for p in prefixes):
            verdict = not negate
    return verdict


def context_files(pats):
    for root, dirs, files in os.walk("."):
        # Build output and history are kept out (KEPT_OUT checks target/); skip walking them.
        if root in (".", "./mock_services"):
            dirs[:] = [d for d in dirs if d not in (".git", "target")]
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), ".")
            if not ignored(rel, pats):
                yield rel


def check_context(failures):
    pats = ignore_patterns()
    for path in KEPT_OUT:
        if not ignored(path, pats):
            failures.append(f"{DOCKERIGNORE}: {path} would be sent to the build")
    files = sorted(context_files(pats))
    have = set(files)
    for path in NEEDED:
        if path not in have:
            failures.append(f"{DOCKERIGNORE}: the build needs {path}, which it keeps out")
    include = re.compile(r'include_(?:bytes|str)!\(\s*"([^"]+)"\s*\)')
    for src in (f for f in files if f.endswith(".rs")):
        with open(src, encoding="utf-8") as fh:
            text = fh.read()
        # A release build does not compile a file's test module (`#[cfg(test)] mod tests`, last
        # in the file by this project's convention): what it includes need not be in the context.
        text = re.split(r"^#\[cfg\(test\)\]\s*\nmod ", text, maxsplit=1, flags=re.M)[0]
        for rel in include.findall(text):
            target = os.path.normpath(os.path.join(os.path.dirname(src), rel))
            if target not in have:
                failures.append(f"{DOCKERIGNORE}: {src} includes {target}, kept out")
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            os.makedirs(os.path.join(tmp, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(f, os.path.join(tmp, f))
        p = subprocess.run(
            ["cargo", "metadata", "--locked", "--offline", "--format-version", "1", "--no-deps"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        if p.returncode != 0:
            failures.append(f"the build context does not load as a workspace:\n{p.stderr.strip()}")
        else:
            bins = [
                t["name"]
                for pkg in json.loads(p.stdout)["packages"]
                for t in pkg["targets"]
                if "bin" in t["kind"]
            ]
            if "ragperf" not in bins:
                failures.append("the build context has no ragperf binary target")
    print(f"build context: {len(files)} files")


def debian_release():
    """The Debian release both stages are built on, e.g. bookworm."""
    with open(DOCKERFILE, encoding="utf-8") as f:
        froms = re.findall(r"^FROM\s+(\S+)", f.read(), re.M)
    releases = {m for image in froms for m in re.findall(r"(bookworm|trixie|bullseye)", image)}
    return froms, releases


def essential_closure():
    """Installed packages that every Debian image has: Essential ones and their dependencies."""
    fields = {}
    with open("/var/lib/dpkg/status", encoding="utf-8") as f:
        for block in f.read().split("\n\n"):
            d = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", block, re.M))
            if d.get("Package") and "installed" in d.get("Status", ""):
                fields[d["Package"]] = d
    todo = [p for p, d in fields.items() if d.get("Essential") == "yes"]
    seen = set()
    while todo:
        pkg = todo.pop()
        if pkg in seen or pkg not in fields:
            continue
        seen.add(pkg)
        deps = fields[pkg].get("Pre-Depends", "") + "," + fields[pkg].get("Depends", "")
        for alt in deps.split(","):
            names = [re.split(r"[\s(:]", a.strip())[0] for a in alt.split("|") if a.strip()]
            todo += [n for n in names if n in fields][:1]
    return seen


def check_libraries(binary, release, failures):
    with open("/etc/os-release", encoding="utf-8") as f:
        host = dict(re.findall(r'^(\w+)="?([^"\n]*)"?$', f.read(), re.M))
    if host.get("ID") != "debian" or host.get("VERSION_CODENAME") != release:
        print(
            f"libraries: SKIPPED: this host is {host.get('PRETTY_NAME', '?')}, the image is "
            f"Debian {release}; the check reads a Debian {release} host's package database"
        )
        return
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"(/\S+) \(0x", ldd)
    base = essential_closure()
    for path in paths:
        owner = subprocess.run(
            ["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True, check=False
        )
        if owner.returncode != 0:
            owner = subprocess.run(
                ["dpkg", "-S", path], capture_output=True, text=True, check=False
            )
        pkg = owner.stdout.split(":")[0] if owner.returncode == 0 else None
        if pkg is None:
            failures.append(f"libraries: {path} belongs to no Debian package")
        elif pkg not in base:
            failures.append(
                f"libraries: {path} comes from {pkg}, which debian:{release}-slim lacks: "
                "install it in the runtime stage"
            )
        else:
            print(f"libraries: {path}: {pkg} (in every Debian {release} image)")
    with open(binary, "rb") as f:
        versions = re.findall(rb"GLIBC_([0-9]+)\.([0-9]+)", f.read())
    needed = {(int(major), int(minor)) for major, minor in versions}
    libc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "libc6"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    have = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", libc).groups())
    newest = max(needed) if needed else (2, 0)
    if newest > have:
        failures.append(
            f"libraries: the binary needs GLIBC_{newest[0]}.{newest[1]}, Debian {release} has {libc}"
        )
    print(f"libraries: needs glibc {newest[0]}.{newest[1]} at most; Debian {release} has {libc}")


def check_apt_pins(release, failures):
    """Every `apt-get install NAME=VERSION` of the Dockerfile names a version Debian has."""
    with open(DOCKERFILE, encoding="utf-8") as f:
        pins = re.findall(r"\b([a-z0-9][a-z0-9.+-]+)=([0-9][A-Za-z0-9.+~:-]*)", f.read())
    for name, version in pins:
        p = subprocess.run(
            ["apt-cache", "madison", name], capture_output=True, text=True, check=False
        )
        rows = [r.split("|") for r in p.stdout.splitlines() if r.count("|") >= 2]
        if not rows:
            print(f"apt pins: {name}={version}: SKIPPED (no apt lists here: apt-get update)")
        elif not any(r[1].strip() == version and release in r[2] for r in rows):
            have = ", ".join(sorted({r[1].strip() for r in rows}))
            failures.append(f"{DOCKERFILE}: {name}={version} is not in Debian {release} ({have})")
        else:
            print(f"apt pins: {name}={version} is in Debian {release}")


def main():
    if len(sys.argv) != 2:
        print("usage: check_image.py RAGPERF_BINARY (from the repository root)", file=sys.stderr)
        return 2
    failures = []
    check_context(failures)
    froms, releases = debian_release()
    if len(froms) < 2 or len(releases) != 1:
        failures.append(f"{DOCKERFILE}: the stages {froms} are not one Debian release")
        release = None
    else:
        release = releases.pop()
        print(f"stages: {', '.join(froms)} (Debian {release})")
    with open(DOCKERFILE, encoding="utf-8") as f:
        pinned = re.search(r"^ARG RUST_VERSION=(\S+)", f.read(), re.M)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True, check=False)
    if pinned and pinned.group(1) not in rustc.stdout:
        print(
            f"note: the image builds with Rust {pinned.group(1)}, this host has {rustc.stdout.strip()}"
        )
    if release:
        check_libraries(sys.argv[1], release, failures)
        check_apt_pins(release, failures)
    for f in failures:
        print(f"FAIL {f}")
    print(f"check_image: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
