#!/usr/bin/env bash
# The main job, end to end: build gold_digger, start the throwaway MariaDB (scripts/test-db.sh),
# seed the sample table bench.mixed_10000, and export it to target/demo/mixed.{csv,json,tsv}
# (target/demo/export.* with DATABASE_URL).
#
#   scripts/demo.sh
#
# GD_DEMO_ROWS=N        sample size (default 10000; bench.mixed_N is built once and reused)
# DATABASE_URL=...      export from your own server instead (nothing is started or seeded);
#                       the query is then $DATABASE_QUERY, or a harmless one about the server.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO"
ROWS=${GD_DEMO_ROWS:-10000}
OUT=$REPO/target/demo
BIN=$REPO/target/release/gold_digger

say() { printf '\n== %s\n' "$*"; }

say "building the release binary (cargo build --release)"
cargo build --release
[[ -x $BIN ]] || {
    echo "demo: $BIN was not built" >&2
    exit 1
}

server_count=
name=mixed
if [[ -n ${DATABASE_URL:-} ]]; then
    say "using your DATABASE_URL (password not shown)"
    URL=$DATABASE_URL
    name="export"
    QUERY=${DATABASE_QUERY:-"SELECT VERSION() AS version, @@hostname AS host, NOW() AS now"}
else
    say "starting the test database (scripts/test-db.sh start)"
    scripts/test-db.sh start
    eval "$(scripts/test-db.sh env)"
    say "seeding bench.mixed_$ROWS (scripts/test-db.sh seed-bench $ROWS)"
    scripts/test-db.sh seed-bench "$ROWS"
    URL=$GD_TEST_URL
    QUERY="SELECT * FROM bench.mixed_$ROWS ORDER BY id"
    server_count=$(scripts/test-db.sh client -N -B -e "SELECT COUNT(*) FROM bench.mixed_$ROWS")
fi

# Records in an export, counted by an independent parser (Python's csv and json modules), so
# that fields holding line breaks are not miscounted.
count_records() {
    python3 - "$1" <<'PY'
import csv, json, sys
path = sys.argv[1]
if path.endswith(".json"):
    with open(path, encoding="utf-8") as f:
        print(len(json.load(f)["data"]))
else:
    csv.field_size_limit(1 << 30)
    delim = "," if path.endswith(".csv") else "\t"
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        print(sum(1 for _ in csv.reader(f, delimiter=delim)) - 1)  # minus the header
PY
}

mkdir -p -- "$OUT"
status=0
for ext in csv json tsv; do
    file=$OUT/$name.$ext
    say "gold_digger --db-url <url> --query \"$QUERY\" --output ${file#"$REPO"/}"
    start=$(date +%s.%N)
    if "$BIN" --db-url "$URL" --query "$QUERY" --output "$file"; then
        end=$(date +%s.%N)
        records=$(count_records "$file" 2>/dev/null || echo '?')
        printf '%s: %s records%s, %s bytes, %s s\n' "${file#"$REPO"/}" "$records" \
            "${server_count:+ (the server counts $server_count)}" "$(stat -c %s -- "$file")" \
            "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')"
        echo "first 3 lines (cut at 160 bytes):"
        head -n 3 -- "$file" | cut -c1-160
        if [[ -n $server_count && $records != "$server_count" ]]; then
            echo "demo: the export holds $records records, the server $server_count" >&2
            status=1
        fi
    else
        code=$?
        echo "demo: gold_digger exited with code $code" >&2
        status=1
    fi
done
exit "$status"
