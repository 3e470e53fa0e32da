"""The GPU sprint's wheels: pin them to this machine's versions, and check that what they need is carried or on the
GPU machine, before a lend is spent finding out.

    python bench/sprint_wheels.py pins              # name==version per line, for pip download
    python bench/sprint_wheels.py check DIR         # every requirement of every wheel in DIR is met (exit 1 if not)

The check evaluates each wheel's Requires-Dist (markers for CPython 3.12 on x86-64 Linux, no extras) against the
carried wheels (name and version) and bench/sprint/device-packages.txt (name only: the machine's versions are unknown,
which is why wheels.txt carries the packages whose lower bounds are recent).
"""

from __future__ import annotations

import sys
import zipfile
from email.parser import Parser
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_wheel_filename

HERE = Path(__file__).resolve().parent / "sprint"
DEVICE_ENV = {"python_version": "3.12", "python_full_version": "3.12.0", "sys_platform": "linux",
              "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython",
              "platform_python_implementation": "CPython", "os_name": "posix", "extra": ""}


def _names(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def pins() -> list[str]:
    out = []
    for name in _names(HERE / "wheels.txt"):
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            raise SystemExit(f"error: {name} (bench/sprint/wheels.txt) is not installed here; pip install it first, "
                             "so the sprint carries the version CI tests") from None
    return out


def requirements_of(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        headers = Parser().parsestr(z.read(meta).decode())
    reqs = [Requirement(r) for r in headers.get_all("Requires-Dist") or []]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(DEVICE_ENV)]


def check(folder: Path) -> list[str]:
    carried = {}
    for wheel in sorted(folder.glob("*.whl")):
        name, ver, _, _ = parse_wheel_filename(wheel.name)
        if name in carried:
            return [f"two wheels of {name} in {folder}: keep one (two stop the whole install)"]
        carried[name] = (ver, wheel)
    device = {canonicalize_name(n) for n in _names(HERE / "device-packages.txt")}
    problems = [f"{n} (bench/sprint/wheels.txt) is not among the wheels in {folder}"
                for n in map(canonicalize_name, _names(HERE / "wheels.txt")) if n not in carried]
    for name, (_, wheel) in carried.items():
        for req in requirements_of(wheel):
            dep = canonicalize_name(req.name)
            if dep in carried:
                if not req.specifier.contains(carried[dep][0], prereleases=True):
                    problems.append(f"{name} needs {req}, but {dep} {carried[dep][0]} is carried")
            elif dep not in device:
                problems.append(f"{name} needs {req}: neither carried nor on the GPU machine; add it to "
                                "bench/sprint/wheels.txt")
    return problems


def main() -> None:
    if sys.argv[1:2] == ["pins"]:
        print("\n".join(pins()))
    elif sys.argv[1:2] == ["check"] and len(sys.argv) == 3:
        problems = check(Path(sys.argv[2]))
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        if problems:
            raise SystemExit(1)
        print(f"{len(list(Path(sys.argv[2]).glob('*.whl')))} wheels; every requirement is carried or on the GPU machine")
    else:
        raise SystemExit("usage: python bench/sprint_wheels.py pins | check DIR")


if __name__ == "__main__":
    main()
