#!/usr/bin/env bash
# Restores of /usr/share/dotnet in the state compare.sh leaves the disk in: 44,000 files deleted next to the target
# 12 s before (ext4 without a journal then checks every recently freed inode when it creates one), restic's restore
# first, then one strata variant per round, rotating. Prints each round and each variant's mean ratio to restic.
#
#   RESTIC_REPO=DIR STRATA_REPO=DIR bench/restore-after-delete.sh ROUNDS "name|path/to/strata|ENV=V ..." ...
#
# Both repositories must hold a backup of /usr/share/dotnet (password "bench"); WORK (default /tmp/strata-rad) is
# deleted and refilled each round.
set -euo pipefail
export RESTIC_PASSWORD=bench STRATA_PASSWORD=bench
: "${RESTIC_REPO:?set RESTIC_REPO}" "${STRATA_REPO:?set STRATA_REPO}"
w=${WORK:-/tmp/strata-rad}; rounds=$1; shift; specs=("$@")
for ((i = 0; i < rounds; i++)); do
  rm -rf "$w"; mkdir -p "$w"
  for j in 1 2 3 4 5 6 7 8 9; do cp -r /usr/share/dotnet "$w/junk$j"; done
  sync; sleep 2; rm -rf "$w"/junk*; sleep 12
  r=$( { /usr/bin/time -f "%e %S" restic restore -q -r "$RESTIC_REPO" latest --target "$w/r-restic" >/dev/null; } 2>&1 | tail -1)
  IFS='|' read -r name bin envs <<<"${specs[$((i % ${#specs[@]}))]}"
  s=$( { env $envs /usr/bin/time -f "%e %S %M" "$bin" restore --repo "$STRATA_REPO" latest --target "$w/r-strata" >/dev/null; } 2>&1 | tail -1)
  echo "$name $r $s" | awk '{printf "%s restic %s s (sys %s) strata %s s (sys %s, %d KiB) ratio %.2f\n", $1, $2, $3, $4, $5, $6, $4/$2}'
done | awk '{print; r[$1] += $NF; c[$1]++} END {for (k in r) printf "== %s mean ratio %.3f over %d rounds\n", k, r[k]/c[k], c[k]}'
rm -rf "$w"
