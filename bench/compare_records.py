"""Compare two folders of result records metric by metric: how many values are bit-identical, and the rest.

    python bench/compare_records.py leaderboards/ci/results /tmp/ci-after/results

A refactor that must not change behaviour (issue 23: the core regrouped into packages) is checked by regenerating a
page and running this against the committed records: every metric of every record present in both folders is
compared as the JSON float it was written as (bit-identical means the same float, not "close"). Records present on
one side only are listed. Timings are not metrics and are not compared.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def metrics_of(folder: Path) -> dict[str, dict[str, float]]:
    """record path relative to ``folder`` -> its numeric metrics."""
    out = {}
    for path in sorted(folder.rglob("*.json")):
        if "artifacts" in path.parts:
            continue
        record = json.loads(path.read_text())
        if "metrics" not in record:
            continue
        out[path.relative_to(folder).as_posix()] = {
            k: v for k, v in record["metrics"].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return out


def compare(old: Path, new: Path) -> dict:
    a, b = metrics_of(old), metrics_of(new)
    identical, differ, only_one = 0, [], []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            only_one.append(f"{name} (only in {'new' if name not in a else 'old'})")
            continue
        for key in sorted(set(a[name]) | set(b[name])):
            x, y = a[name].get(key), b[name].get(key)
            same = x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
            if same:
                identical += 1
            else:
                rel = (abs(x - y) / max(abs(x), abs(y), 1e-300)) if x is not None and y is not None else math.inf
                differ.append((name, key, x, y, rel))
    return {"identical": identical, "differ": differ, "only_one": only_one}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    found = compare(args.old, args.new)
    total = found["identical"] + len(found["differ"])
    print(f"{found['identical']} of {total} metric values bit-identical; {len(found['differ'])} differ; "
          f"{len(found['only_one'])} records on one side only")
    if found["differ"]:
        print("\n| record | metric | old | new | relative difference |\n|---|---|---|---|---|")
        for name, key, x, y, rel in found["differ"]:
            print(f"| {name} | {key} | {x!r} | {y!r} | {rel:.2e} |")
    for line in found["only_one"]:
        print(line)


if __name__ == "__main__":
    main()
