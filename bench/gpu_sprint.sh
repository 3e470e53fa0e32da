#!/usr/bin/env bash
# One GPU lend in one command: install the carried wheels, measure (gpu_check --sprint), run the budgeted `small`
# suite until an internal deadline, pack the new records and reports into at most 8 files under $OUT.
#
#   on the GPU machine:  bash bench/gpu_sprint.sh                 (device tool: carry [".sprint"], timeout_s 600)
#   dry run on a CPU:    bash bench/gpu_sprint.sh --dry           (CI: tiny suite, seconds; same steps, same packing)
#
# Prepare .sprint/ first with scripts/prepare_gpu_sprint.sh; bring the results home with scripts/unpack_gpu_sprint.sh.
# Environment: SPRINT_DEADLINE_S (default 500: the whole script, inside the tool's 600 s per command),
# OUT (default: a new temporary folder), SPRINT_DIR (default .sprint), SPRINT_MODELS (a comma-separated subset of the
# suite's models; the dry run uses dmz,pixels).
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
export PIP_ROOT_USER_ACTION=ignore
DRY=0; [ "${1:-}" = "--dry" ] && DRY=1
SPRINT_DIR=${SPRINT_DIR:-.sprint}
DEADLINE=${SPRINT_DEADLINE_S:-500}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
left() { echo $(( DEADLINE - ($(date +%s) - T0) )); }
exec > >(tee -a "$OUT/sprint.log") 2>&1
echo "gpu_sprint: start $(date -u +%FT%TZ), deadline ${DEADLINE} s, dry=${DRY}, OUT=$OUT"

[ -d "$SPRINT_DIR/whl" ] || { echo "error: $SPRINT_DIR/whl missing: run scripts/prepare_gpu_sprint.sh here first and carry $SPRINT_DIR"; exit 2; }
SITE=$(mktemp -d)/site
python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --no-compile --no-cache-dir \
  --target "$SITE" "$SPRINT_DIR"/whl/*.whl || { echo "error: installing the carried wheels failed"; exit 3; }
# dmzbench itself, with its entry points, from this checkout: no network, no build isolation
python3 -m pip install -q --disable-pip-version-check --no-index --no-deps --no-build-isolation --no-compile --upgrade \
  --target "$SITE" . || { echo "error: installing dmzbench failed"; exit 3; }
export PYTHONPATH="$SITE" PYTHONUNBUFFERED=1
export DMZBENCH_DATA="$PWD/$SPRINT_DIR/data" DMZBENCH_COMMIT="$(cat "$SPRINT_DIR/COMMIT" 2>/dev/null || echo unknown)"
export DMZBENCH_HOME="${DMZBENCH_HOME:-$(mktemp -d)}"
echo "installed in $(( $(date +%s) - T0 )) s; dmzbench at commit $DMZBENCH_COMMIT"
python3 -c "import diffusers, torch_fidelity, dmzbench, torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'diffusers', diffusers.__version__, 'from', diffusers.__file__)"

if [ "$DRY" = 1 ]; then
  DEVICE=cpu; SUITE=${SPRINT_SUITE:-tiny}; CHECK="--device cpu --tiny --models dmz,sdvae"
  SPRINT_MODELS=${SPRINT_MODELS:-dmz,pixels}
else
  DEVICE=cuda; SUITE=${SPRINT_SUITE:-small}; CHECK="--device cuda"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
# the device copy's leaderboards/small/results holds the records of earlier lends: the suite skips those runs
RESULTS=${SPRINT_RESULTS:-$([ "$DRY" = 1 ] && echo "$(mktemp -d)/results" || echo "leaderboards/$SUITE/results")}
SUBSET=(); [ -n "${SPRINT_MODELS:-}" ] && SUBSET=(--models "$SPRINT_MODELS")
mkdir -p "$RESULTS"; touch "$OUT/.start"

timeout "$([ "$DRY" = 1 ] && echo 300 || echo 150)" python3 bench/gpu_check.py --sprint $CHECK --json "$OUT/gpu_check.json" \
  || echo "gpu_check failed or timed out: the suite uses the assumed rates"
PROFILE=$([ -s "$OUT/gpu_check.json" ] && echo "$OUT/gpu_check.json" || echo $([ "$DRY" = 1 ] && echo cpu || echo h100))

# The suite plans with the remaining seconds less a packing margin; `timeout` is the hard stop if an estimate is
# wrong (each record is written atomically when its run ends, so whatever finished is packed).
BUDGET=$(( $(left) - 40 ))
echo "suite $SUITE: budget ${BUDGET} s, profile $PROFILE"
python3 -m dmzbench suite "$SUITE" --plan --budget "$BUDGET" --profile "$PROFILE" --results "$RESULTS" "${SUBSET[@]}" > "$OUT/plan.md"
timeout --signal=INT --kill-after=10 $(( $(left) - 25 )) python3 -m dmzbench suite "$SUITE" --budget "$BUDGET" \
  --profile "$PROFILE" --device "$DEVICE" --results "$RESULTS" --summary "$OUT/suite_summary.json" "${SUBSET[@]}"
suite_rc=$?
echo "suite exit code $suite_rc (124: stopped at the deadline; what finished is packed)"

# Pack: the new records (and their artifacts); gpu_check wrote its report beside its JSON. At most 8 files in $OUT.
(cd "$RESULTS" && find . -type f -newer "$OUT/.start" -print0 | tar --null -czf "$OUT/records.tar.gz" -T -)
rm -f "$OUT/.start"
echo "packed $(tar -tzf "$OUT/records.tar.gz" | grep -c '\.json$') record file(s); $(ls "$OUT" | wc -l) files in OUT"
echo "gpu_sprint: done in $(( $(date +%s) - T0 )) s"
# A dry run is CI's check that a lend cannot fail for a reason a CPU could catch: every step must have worked.
if [ "$DRY" = 1 ]; then
  [ "$suite_rc" = 0 ] && [ -s "$OUT/gpu_check.json" ] && [ "$(tar -tzf "$OUT/records.tar.gz" | grep -c '\.json$')" -gt 0 ] \
    || { echo "error: the dry run did not complete every step (suite exit $suite_rc)"; exit 1; }
fi
