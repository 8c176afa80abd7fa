#!/usr/bin/env bash
# The same 20 everyday tasks with restic and cairn on the same data; prints a
# Markdown table: each task, each tool's exit code and the first line it
# printed (stdout, else stderr). Not a timing benchmark: it shows what a user
# sees. Needs restic (Debian) and a built cairn:
#   cargo build --release && benches/restic_side_by_side.sh [target/release/cairn]
set -uo pipefail
CAIRN=$(realpath "${1:-target/release/cairn}")
command -v restic >/dev/null || { echo "restic not found: apt-get install restic"; exit 1; }
W=$(mktemp -d)
trap 'fusermount3 -u "$W/mnt-c" 2>/dev/null; fusermount3 -u "$W/mnt-r" 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
export RESTIC_PASSWORD=pw CAIRN_PASSWORD=pw RESTIC_CACHE_DIR="$W/cache"
mkdir -p data/scripts data/cache
for i in $(seq 1 40); do head -c 1000000 /dev/urandom > "data/scripts/ep$i.txt"; done
echo tmp > data/cache/x.tmp
R=(restic -r "$W/rr" -q)
C=("$CAIRN" -r "$W/cr")

first() { # the first line of output, trimmed, | escaped
  local l
  l=$(grep -v '^\s*$' "$1" | head -1 | cut -c1-110)
  [ -z "$l" ] && l=$(grep -v '^\s*$' "$2" | head -1 | cut -c1-110)
  printf '%s' "${l//|/\\|}"
}
row() { # row N "task" "restic command" "cairn command"
  local n=$1 task=$2
  bash -c "$3" >r.out 2>r.err; local rc=$?
  bash -c "$4" >c.out 2>c.err; local cc=$?
  printf '| %s | %s | %s: `%s` | %s: `%s` |\n' "$n" "$task" "$rc" "$(first r.out r.err)" "$cc" "$(first c.out c.err)"
}
q() { printf '%q ' "$@"; }
# The short id of the first snapshot with tag $2 (or the first of all) of
# tool $1, as each tool's JSON gives it.
sid() { "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["short_id"])'; }
export -f sid

echo "| # | task | restic (exit: first line) | cairn (exit: first line) |"
echo "|---|---|---|---|"
row 1 "init" "$(q "${R[@]}") init" "$(q "${C[@]}") init --kdf-memory-kib 65536"
row 2 "first backup (40 MB)" "restic -r $W/rr backup data | tail -1" "$(q "${C[@]}") backup data | tail -1"
echo more > data/scripts/ep1.txt
row 3 "second backup, one file changed" "restic -r $W/rr backup data | grep -i 'added to the repo'" "$(q "${C[@]}") backup data | tail -2 | head -1"
row 4 "backup --exclude '*.tmp' --tag nightly" "$(q "${R[@]}") backup --exclude '*.tmp' --tag nightly data" "$(q "${C[@]}") backup --exclude '*.tmp' --tag nightly data"
row 5 "backup from stdin" "echo dump | $(q "${R[@]}") backup --stdin --stdin-filename db.sql" "echo dump | $(q "${C[@]}") backup --stdin --stdin-filename db.sql"
row 6 "snapshots --tag nightly" "$(q "${R[@]}") snapshots --tag nightly | sed -n 3p" "$(q "${C[@]}") snapshots --tag nightly | sed -n 2p"
row 7 "snapshots --latest 1 --host \$(hostname)" "$(q "${R[@]}") snapshots --latest 1 --host $(hostname) | sed -n 3p" "$(q "${C[@]}") snapshots --latest 1 --host $(hostname) | sed -n 2p"
row 8 "ls -l SNAP (a file)" "$(q "${R[@]}") ls -l $(sid restic -r $W/rr snapshots --json --tag nightly) | grep ep2.txt" "$(q "${C[@]}") ls -l $(sid $CAIRN -r $W/cr snapshots --json --tag nightly) | grep ep2.txt"
row 9 "find ep3*" "$(q "${R[@]}") find 'ep3*' | sed -n 2p" "$(q "${C[@]}") find 'ep3*' | sed -n 2p"
row 10 "diff first last" "$(q "${R[@]}") diff \$(restic -r $W/rr snapshots --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[0][\"short_id\"], s[2][\"short_id\"])') | tail -1" "$(q "${C[@]}") diff \$($CAIRN -r $W/cr snapshots --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s[0][\"short_id\"], s[2][\"short_id\"])') | tail -1"
row 11 "dump SNAP file | wc -c" "$(q "${R[@]}") dump $(sid restic -r $W/rr snapshots --json --tag nightly) /data/scripts/ep2.txt 2>&1 | wc -c" "$(q "${C[@]}") dump $(sid $CAIRN -r $W/cr snapshots --json --tag nightly) /data/scripts/ep2.txt | wc -c"
row 12 "restore SNAP (dir)" "restic -r $W/rr restore $(sid restic -r $W/rr snapshots --json --tag nightly) --target rr-out | tail -1" "$(q "${C[@]}") restore $(sid $CAIRN -r $W/cr snapshots --json --tag nightly) --target cr-out"
row 13 "restore --include one file; files restored" "$(q "${R[@]}") restore $(sid restic -r $W/rr snapshots --json --tag nightly) --include /data/scripts/ep5.txt --target rr-one && find rr-one -type f | wc -l" "$(q "${C[@]}") restore $(sid $CAIRN -r $W/cr snapshots --json --tag nightly) --include data/scripts/ep5.txt --target cr-one >/dev/null && find cr-one -type f | wc -l"
row 14 "tag --add keep (latest nightly)" "$(q "${R[@]}") tag --tag nightly --add keep" "$(q "${C[@]}") tag --tag nightly --add keep"
row 15 "forget --keep-last 1 --dry-run" "restic -r $W/rr forget --keep-last 1 --dry-run | grep -i 'remove\|keep' | head -1" "$(q "${C[@]}") forget --keep-last 1 --dry-run | grep -i 'remove' | head -1"
row 16 "forget ID (the first)" "restic -r $W/rr forget \$(restic -r $W/rr snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"short_id\"])')" "$(q "${C[@]}") forget \$($CAIRN -r $W/cr snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"short_id\"])') | tail -1"
row 17 "prune" "restic -r $W/rr prune | tail -1" "$(q "${C[@]}") prune --grace 0s | tail -1"
row 18 "check --read-data" "restic -r $W/rr check --read-data | tail -1" "$(q "${C[@]}") check --read-data | tail -1"
row 19 "stats (raw data)" "restic -r $W/rr stats --mode raw-data | grep 'Total Size'" "$(q "${C[@]}") stats | grep 'stored size'"
row 20 "copy to a second repository" "restic -r $W/rr2 init --from-repo $W/rr --copy-chunker-params --from-password-command 'echo pw' >/dev/null && restic -r $W/rr2 copy --from-repo $W/rr --from-password-command 'echo pw' | tail -1" "export CAIRN_FROM_PASSWORD=pw; $CAIRN -r $W/cr2 init --from-repo $W/cr --kdf-memory-kib 65536 >/dev/null && $CAIRN -r $W/cr2 copy --from-repo $W/cr | tail -1"
# Extras: errors a user meets.
row 21 "restore into a non-empty dir" "$(q "${R[@]}") restore latest --target data" "$(q "${C[@]}") restore latest --target data"
row 22 "wrong snapshot id" "$(q "${R[@]}") ls deadbeef" "$(q "${C[@]}") ls deadbeef"
row 23 "ls latest | head -1 (closed pipe)" "$(q "${R[@]}") ls latest | head -1 >/dev/null; echo \${PIPESTATUS[0]}" "$(q "${C[@]}") ls latest | head -1 >/dev/null; echo \${PIPESTATUS[0]}"
mkdir -p mnt-r mnt-c
row 24 "mount, list snapshots/" "(restic -r $W/rr mount mnt-r >/dev/null 2>&1 &) ; sleep 3; ls mnt-r/snapshots | head -1; fusermount3 -u mnt-r" "($CAIRN -r $W/cr mount mnt-c >/dev/null 2>&1 &) ; sleep 2; ls mnt-c/snapshots | head -1; fusermount3 -u mnt-c"
