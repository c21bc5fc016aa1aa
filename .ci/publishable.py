#!/usr/bin/env python3
"""Check that NAMES are exactly the workspace members cargo would publish.

A member is publishable unless its manifest says `publish = false` (or
limits `publish` to no registry). A new member must be either listed in
.ci/run's PUBLISHABLE or marked `publish = false`: this fails otherwise.

usage: publishable.py NAME...
"""

import json
import subprocess
import sys


def main():
    listed = set(sys.argv[1:])
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    members = set(metadata["workspace_members"])
    publishable = {
        p["name"] for p in metadata["packages"] if p["id"] in members and p.get("publish") != []
    }
    if publishable != listed:
        for name in sorted(publishable - listed):
            print(f"{name} is publishable but not in PUBLISHABLE (list it, or set publish = false)")
        for name in sorted(listed - publishable):
            print(f"{name} is in PUBLISHABLE but is not a publishable workspace member")
        sys.exit(1)
    print(f"publishable workspace members: {', '.join(sorted(publishable))}")


if __name__ == "__main__":
    main()
