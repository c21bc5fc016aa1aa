#!/usr/bin/env python3
"""Check that a package's declared rust-version covers what it builds with.

For PACKAGE (a workspace member), every crate in its normal and build
dependency graph with all features, on every target, as Cargo.lock resolves
it, must declare a rust-version no newer than PACKAGE's own. A crate that
declares none is listed but not counted as a failure (nothing to compare).
Dev-dependencies are left out: they build the tests, examples and benches,
which the rust-version does not promise.

usage: dependency-msrv.py PACKAGE [RUST_VERSION]

With RUST_VERSION, compare against it instead of the declared one (to ask
whether a lower declaration would hold, or to see the check fail).
"""

import json
import subprocess
import sys


def version_key(text):
    """"1.85" and "1.85.0" are the same version: pad to three parts."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    package = sys.argv[1]
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    declared = {(p["name"], p["version"]): p.get("rust_version") for p in metadata["packages"]}
    tree = subprocess.run(
        ["cargo", "tree", "--locked", "-p", package, "--all-features", "-e", "normal,build",
         "--target", "all", "--prefix", "none", "--format", "{p}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    crates = set()
    for line in tree.splitlines():
        words = line.split()
        if len(words) >= 2 and words[1].startswith("v"):
            crates.add((words[0], words[1][1:]))
    own = [v for (name, _), v in declared.items() if name == package]
    if len(own) != 1 or own[0] is None:
        sys.exit(f"{package}: no single rust-version declared")
    msrv = sys.argv[2] if len(sys.argv) == 3 else own[0]
    newer = sorted(
        (name, version, declared.get((name, version)))
        for name, version in crates
        if declared.get((name, version)) and version_key(declared[(name, version)]) > version_key(msrv)
    )
    undeclared = sorted(f"{n} {v}" for n, v in crates if not declared.get((n, v)))
    print(f"{package}: rust-version {msrv}; {len(crates)} crates in its normal and build dependencies")
    print(f"  declaring no rust-version (not checked): {', '.join(undeclared) or 'none'}")
    if newer:
        for name, version, needs in newer:
            print(f"  {name} {version} declares rust-version {needs}, newer than {msrv}")
        sys.exit(1)
    print(f"  every crate that declares a rust-version declares {msrv} or older")


if __name__ == "__main__":
    main()
