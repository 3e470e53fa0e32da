#!/usr/bin/env bash
# Bring a GPU sprint's results home (run HERE, after the device call):
#   scripts/unpack_gpu_sprint.sh FILES_AT [SUITE]     FILES_AT: the folder the device tool put $OUT's files in
# Puts the new records under leaderboards/<suite>/results, the gpu_check report under bench/results, regenerates
# leaderboards/<suite>/ (page + run status) and prints what to commit. LEADERBOARDS=DIR writes elsewhere (CI's dry run).
set -euo pipefail
cd "$(dirname "$0")/.."
FROM=${1:?usage: scripts/unpack_gpu_sprint.sh FILES_AT [SUITE]}
SUITE=${2:-small}
BOARD=${LEADERBOARDS:-leaderboards}/$SUITE
BENCH=${BENCH_RESULTS:-bench/results}
[ -f "$FROM/records.tar.gz" ] || { echo "error: $FROM/records.tar.gz not found: is $FROM the device call's files_at?" >&2; exit 2; }
mkdir -p "$BOARD/results" "$BENCH"
tar -xzf "$FROM/records.tar.gz" -C "$BOARD/results"
for f in "$FROM"/gpu_check-sprint-*.md "$FROM"/sprint.log "$FROM"/suite_summary.json; do
  [ -f "$f" ] || continue
  case "$f" in *.md) cp "$f" "$BENCH/" ;; *) cp "$f" "$BOARD/last_sprint_$(basename "$f")" ;; esac
done
python3 -m dmzbench leaderboard --suite "$SUITE" --results "$BOARD/results" --out "$BOARD"
python3 -m dmzbench suite "$SUITE" --status --results "$BOARD/results" > "$BOARD/runs.md"
echo "unpacked $(tar -tzf "$FROM/records.tar.gz" | grep -c '\.json$') record file(s) into $BOARD/results; commit $BOARD and $BENCH"
