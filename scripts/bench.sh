#!/usr/bin/env bash
# Side-by-side export benchmark against the throwaway MariaDB (scripts/test-db.sh):
# gold_digger (release build) to CSV, TSV and JSON over one connection and to CSV over 2 and 4
# (`-j N --table`), the mariadb C client (`--batch --quick --raw`, TSV), mydumper
# (`-t 2 -r 100000`: SQL files, the same rows through the same server, two connections) and,
# at 1 M rows, gold_digger 0.2.5 from crates.io (the batch exporter this one replaces),
# alternating, several runs each. Reports medians of wall
# time, client CPU (user+sys), peak RSS, output bytes and the server's CPU for the same run
# (from /proc/<mariadbd>/stat), and the ratios to the mariadb client.
#
#   scripts/bench.sh [--runs N] [--no-legacy] [--no-mydumper] [ROWS...]
#                                                (default: --runs 3  1000000 10000000)
#
# The table bench.mixed_ROWS is built once by scripts/bench-mixed.sql and cached (10 M rows
# take about 10 minutes to build). Results go to stdout and to benches/RESULTS.md.
set -euo pipefail
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO"

runs=3
legacy=1
mydumper=1
rows=()
while (($#)); do
    case $1 in
    --runs) runs=$2; shift 2 ;;
    --no-legacy) legacy=0; shift ;;
    --no-mydumper) mydumper=0; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) rows+=("$1"); shift ;;
    esac
done
((${#rows[@]})) || rows=(1000000 10000000)

command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed" >&2; exit 1; }

echo "== building (release)"
cargo build --release --quiet
GD=$REPO/target/release/gold_digger

LEGACY_ROOT=$REPO/target/bench-tools/gd-0.2.5
LEGACY=$LEGACY_ROOT/bin/gold_digger
if ((legacy)) && [[ ! -x $LEGACY ]]; then
    echo "== installing gold_digger 0.2.5 from crates.io into $LEGACY_ROOT (once)"
    cargo install gold_digger --version 0.2.5 --no-default-features --features json,csv \
        --root "$LEGACY_ROOT" --locked --quiet || { echo "bench.sh: could not install 0.2.5; continuing without it" >&2; legacy=0; }
fi

if ((mydumper)) && ! command -v mydumper >/dev/null; then
    echo "== installing mydumper (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mydumper >/dev/null ||
        { echo "bench.sh: could not install mydumper; continuing without it" >&2; mydumper=0; }
fi

scripts/test-db.sh start
eval "$(scripts/test-db.sh env)"
SERVER_PID=$(cat "$REPO/target/test-db/mysqld.pid")
URL="mysql://gd:gd_pass@127.0.0.1:$GD_TEST_PORT/bench"
TICKS=$(getconf CLK_TCK)
OUT=$REPO/target/bench-out
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
: >"$RAW"

server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# measure LABEL ROWS OUTFILE CMD...: one timed run, appended to $RAW.
measure() {
    local label=$1 n=$2 file=$3; shift 3
    rm -rf "$file"
    local before after
    before=$(server_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" "$@" >"$OUT/stdout.txt" 2>"$OUT/stderr.txt" || {
        echo "bench.sh: $label failed:" >&2; cat "$OUT/stderr.txt" >&2; exit 1; }
    after=$(server_ticks)
    read -r wall user sys rss <"$OUT/time.txt"
    local bytes
    bytes=$(du -sb -- "$file" | cut -f1) # a file, or mydumper's directory
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$n" "$wall" "$user" "$sys" "$rss" "$bytes" \
        "$(python3 -c "print(($after - $before) / $TICKS)")" >>"$RAW"
    printf '   %-22s %6.2fs wall  %6.2fs cpu  %7d KiB  server %5.2fs\n' "$label" "$wall" \
        "$(python3 -c "print($user + $sys)")" "$rss" "$(python3 -c "print(($after - $before) / $TICKS)")"
    rm -rf "$file"
}

LEGACY_Q="SELECT id, qty, uid, amount, ratio, score, day, created_at, updated_at, dur, name, email, note, COALESCE(ref_code, '') AS ref_code, is_active, HEX(fingerprint) AS fingerprint, attrs, status"

for n in "${rows[@]}"; do
    scripts/test-db.sh seed-bench "$n"
    table=mixed_$n
    q="SELECT * FROM $table"
    echo "== $n rows: warming the buffer pool"
    scripts/test-db.sh client -e "SELECT COUNT(*), SUM(LENGTH(note)) FROM bench.$table" >/dev/null
    for ((r = 1; r <= runs; r++)); do
        echo "== $n rows, run $r/$runs"
        measure "gold_digger csv" "$n" "$OUT/out.csv" "$GD" --db-url "$URL" -q "$q" -o "$OUT/out.csv"
        # The kernel's cost of writing that many bytes to a file here the way gold_digger
        # does (2 MiB direct writes, fsync): part of its system time.
        csv_bytes=$(awk -F'\t' '$1 == "gold_digger csv" { b = $7 } END { print b }' "$RAW")
        measure "dd, CSV's bytes" "$n" "$OUT/dd.out" \
            dd if=/dev/zero of="$OUT/dd.out" bs=2M count=$((csv_bytes / 2097152)) oflag=direct conv=fsync status=none
        measure "mariadb --batch" "$n" "$OUT/out.mariadb.tsv" \
            sh -c 'exec mariadb --no-defaults -h127.0.0.1 -P"$1" -ugd -pgd_pass --batch --quick --raw -e "$2" bench >"$3"' \
            sh "$GD_TEST_PORT" "$q" "$OUT/out.mariadb.tsv"
        measure "gold_digger csv -j 2" "$n" "$OUT/out.csv" "$GD" --db-url "$URL" -j 2 --table "$table" -o "$OUT/out.csv"
        if ((mydumper)); then
            measure "mydumper -t 2" "$n" "$OUT/mydumper" mydumper -h 127.0.0.1 -P "$GD_TEST_PORT" -u gd \
                -p gd_pass -B bench -T "$table" -t 2 -r 100000 -o "$OUT/mydumper"
        fi
        measure "gold_digger csv -j 4" "$n" "$OUT/out.csv" "$GD" --db-url "$URL" -j 4 --table "$table" -o "$OUT/out.csv"
        measure "gold_digger tsv" "$n" "$OUT/out.tsv" "$GD" --db-url "$URL" -q "$q" -o "$OUT/out.tsv"
        measure "gold_digger json" "$n" "$OUT/out.json" "$GD" --db-url "$URL" -q "$q" -o "$OUT/out.json"
        if ((legacy)) && ((n <= 1000000)); then
            # 0.2.5 panics on NULL and on non-UTF-8 bytes (it converts every value to a
            # String), so it gets ref_code through COALESCE and fingerprint through HEX.
            measure "gold_digger 0.2.5 csv" "$n" "$OUT/legacy.csv" \
                env DATABASE_URL="$URL" DATABASE_QUERY="$LEGACY_Q FROM $table" OUTPUT_FILE="$OUT/legacy.csv" "$LEGACY"
        fi
    done
done

python3 - "$RAW" "$REPO/benches/RESULTS.md" "$runs" <<'PY'
import sys, statistics, subprocess, datetime, os
raw, dest, runs = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(raw) if l.strip()]
by = {}
for label, n, wall, user, sys_, rss, size, server in rows:
    by.setdefault((int(n), label), []).append(
        (float(wall), float(user) + float(sys_), int(rss), int(size), float(server),
         float(user), float(sys_)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(7)) for k, v in by.items()}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ver = subprocess.run(["mariadb", "--version"], capture_output=True, text=True).stdout.strip()
lines = [
    "# Benchmark results", "",
    f"Produced by `scripts/bench.sh` on {datetime.date.today()} — {os.cpu_count()} CPUs ({cpu}), "
    f"{ver.split(',')[0] if ver else 'mariadb'}; medians of {runs} runs, tools alternating; "
    "table `bench.mixed` from `scripts/bench-mixed.sql`; output written to a file on the same disk.",
    "",
    "| rows | tool | wall s | client CPU s | user s | sys s | peak RSS MiB | output MB | server CPU s | wall / mariadb | CPU / mariadb | user / mariadb |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for n in sorted({k[0] for k in med}):
    base = med.get((n, "mariadb --batch"))
    for label in ["gold_digger csv", "gold_digger tsv", "gold_digger json", "gold_digger csv -j 2",
                  "gold_digger csv -j 4", "mariadb --batch", "mydumper -t 2",
                  "gold_digger 0.2.5 csv", "dd, CSV's bytes"]:
        m = med.get((n, label))
        if not m:
            continue
        wall, cpu_s, rss, size, server, user, sys_ = m
        rw = f"{wall / base[0]:.2f}" if base else "-"
        rc = f"{cpu_s / base[1]:.2f}" if base and base[1] else "-"
        ru = f"{user / base[5]:.2f}" if base and base[5] else "-"
        lines.append(f"| {n:,} | {label} | {wall:.2f} | {cpu_s:.2f} | {user:.2f} | {sys_:.2f} | {rss / 1024:.1f} | {size / 1e6:.0f} | {server:.2f} | {rw} | {rc} | {ru} |")
ns = sorted({k[0] for k in med})
if len(ns) >= 2:
    lines += ["", "Peak RSS ratio, largest / smallest row count:"]
    for label in ["gold_digger csv", "gold_digger tsv", "gold_digger json", "gold_digger csv -j 2"]:
        a, b = med.get((ns[0], label)), med.get((ns[-1], label))
        if a and b:
            lines.append(f"- {label}: {b[2] / 1024:.1f} / {a[2] / 1024:.1f} MiB = {b[2] / a[2]:.2f}")
for n in ns:
    j1, j2, md = (med.get((n, l)) for l in ("gold_digger csv", "gold_digger csv -j 2", "mydumper -t 2"))
    if not j2:
        continue
    parts = []
    if md and md[0]:
        parts.append(f"wall {j2[0] / md[0]:.2f}x mydumper -t 2's")
    if j1 and j1[1]:
        parts.append(f"client CPU {j2[1] / j1[1]:.2f}x the one-connection CSV export's")
    lines += ["", f"{n:,} rows, `-j 2`: " + ", ".join(parts) + "."]
lines += ["", "`dd, CSV's bytes` writes as many bytes as the CSV export from /dev/zero, in 2 MiB `O_DIRECT` "
          "blocks with an fsync (as gold_digger does): the kernel's cost of the output alone, in the same series.", ""]
lines += ["gold_digger 0.2.5 cannot export `SELECT *` of this table: it panics on the first NULL "
          "(`Couldn't convert the value Null to a desired type`) and on non-UTF-8 bytes. It runs "
          "`COALESCE(ref_code, '')` and `HEX(fingerprint)` instead, so its output differs slightly."]
text = "\n".join(lines) + "\n"
open(dest, "w").write(text)
print(text)
PY
