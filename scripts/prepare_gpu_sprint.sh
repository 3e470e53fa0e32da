#!/usr/bin/env bash
# Run HERE (the CPU machine) before a GPU lend: fills the git-ignored .sprint/ that the device call carries.
#   .sprint/whl/    wheels the GPU machine lacks (bench/sprint/wheels.txt, pinned to the versions installed here)
#   .sprint/data/   the Fashion-MNIST IDX files (shapes and edges2fashion are derived from them or procedural)
#   .sprint/COMMIT  the commit the records will name (the device copy has no .git)
# Then: the device tool's run with carry [".sprint"] and command "bash bench/gpu_sprint.sh" (leaderboards/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-.sprint}
LIMIT_MIB=${SPRINT_LIMIT_MIB:-40}

mkdir -p "$DEST/whl" "$DEST/data/fashion-mnist"
# shellcheck disable=SC2046
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$DEST/whl" $(python3 bench/sprint_wheels.py pins)
# a re-run after a version change would leave two wheels of one package: keep only the pinned ones
pins=$(python3 bench/sprint_wheels.py pins)
for w in "$DEST"/whl/*.whl; do
  keep=$(python3 -c "import sys; from packaging.utils import parse_wheel_filename as p, canonicalize_name as c
n, v, _, _ = p(sys.argv[1].rsplit('/', 1)[-1]); pins = {c(l.split('==')[0]): l.split('==')[1] for l in sys.argv[2].split()}
print(int(pins.get(n) == str(v)))" "$w" "$pins")
  [ "$keep" = 1 ] || rm -f "$w"
done
python3 bench/sprint_wheels.py check "$DEST/whl"

# the same files a run here would read ($DMZBENCH_DATA, else the Debian package dataset-fashion-mnist)
python3 - "$DEST/data/fashion-mnist" <<'PY'
import os, shutil, sys
from pathlib import Path
from dmzbench.data.fashion_mnist import FashionMNIST
root = os.environ.get("DMZBENCH_DATA")
files = FashionMNIST().locate(Path(root) if root else None)
if not files:
    sys.exit("error: Fashion-MNIST not found here; apt-get install dataset-fashion-mnist (or set DMZBENCH_DATA)")
for path in files.values():
    shutil.copy(path, sys.argv[1])
PY
python3 -c "from dmzbench.run.records import git_commit; print(git_commit() or 'unknown')" > "$DEST/COMMIT"

size=$(du -sm "$DEST" | cut -f1)
tree=$(git ls-files -z | du -cm --files0-from=- | tail -1 | cut -f1)
echo "$DEST: ${size} MiB (wheels $(du -sm "$DEST/whl" | cut -f1), data $(du -sm "$DEST/data" | cut -f1)); tracked tree ${tree} MiB"
if [ "$size" -gt "$LIMIT_MIB" ] || [ $((size + tree)) -gt 60 ]; then
  echo "error: $DEST is ${size} MiB (limit ${LIMIT_MIB}) or with the tree over 60 of the 64 MiB a device call carries" >&2
  exit 1
fi
