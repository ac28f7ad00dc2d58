#!/usr/bin/env bash
# Side-by-side export benchmark against the throwaway MariaDB (scripts/test-db.sh), alternating,
# several runs each. Each line has a name for --only/--skip:
#   csv tsv json ndjson   gold_digger (release build), one connection, one file per format
#   zst gz                gold_digger CSV compressed: x.csv.zst, x.csv.gz (default levels)
#   parquet               gold_digger x.parquet
#   text binary           gold_digger CSV and JSON with --protocol text / --protocol binary
#   j2 j4                 gold_digger CSV over 2 and 4 connections (-j N --table)
#   mariadb               the mariadb C client (--batch --quick --raw, TSV): the baseline
#   mydumper              mydumper -t 2 -r 100000 (SQL files, two connections; apt-get)
#   duckdb                DuckDB's mysql_scanner COPY ... TO x.parquet: the Parquet anchor (PyPI
#                         duckdb + duckdb-extension-mysql-scanner in target/bench-tools/duckdb-venv)
#   dd                    dd writing as many bytes as the CSV export (needs the csv line)
#   legacy                gold_digger 0.2.5 from crates.io, at 1 M rows or fewer
# Groups: proto = text,binary; pipeline = ndjson,zst,gz,parquet,duckdb. A gold_digger line whose
# feature this build lacks (no `parquet` or `--protocol` in --help) is skipped with a note.
# Reports medians of wall time, client CPU (user+sys), peak RSS, output bytes and the server's
# CPU in the same run (/proc/<mariadbd>/stat), the ratios to the mariadb client, and the targets
# of issues 13 (protocols) and 14 (pipeline formats) with a pass/miss mark.
#
#   scripts/bench.sh [--runs N] [--only LIST] [--skip LIST] [--no-legacy] [--no-mydumper]
#                    [--no-duckdb] [--results FILE] [ROWS...]
#                               (default: --runs 3, every line, 1000000 10000000)
#   e.g. scripts/bench.sh --only parquet,duckdb,mariadb --results target/parquet.md 10000000
#
# The table bench.mixed_ROWS is built once by scripts/bench-mixed.sql and cached (10 M rows
# take about 10 minutes to build). Results go to stdout and to FILE (default
# benches/RESULTS.md), replaced except for its hand-written `## ` sections, which are kept.
set -euo pipefail
CALLER_DIR=$PWD
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO"

ALL_LINES=(csv tsv json ndjson zst gz parquet text binary j2 j4 mariadb mydumper duckdb dd legacy)
DUCKDB_VERSION=1.5.5 # duckdb-extension-mysql-scanner is released with the same version number

usage_error() { echo "bench.sh: $*; see --help" >&2; exit 2; }
# expand LIST: the line names in LIST (comma-separated names and groups) into $expanded. Runs in
# this shell, not in a subshell, so that an unknown name stops the script.
expand() {
    local item
    local -a items
    expanded=()
    IFS=, read -r -a items <<<"$1"
    for item in "${items[@]}"; do
        case $item in
        proto) expanded+=(text binary) ;;
        pipeline) expanded+=(ndjson zst gz parquet duckdb) ;;
        all) expanded+=("${ALL_LINES[@]}") ;;
        *) [[ " ${ALL_LINES[*]} " == *" $item "* ]] ||
            usage_error "unknown line '$item' (lines: ${ALL_LINES[*]}; groups: proto, pipeline, all)"
            expanded+=("$item") ;;
        esac
    done
}

runs=3
only=all
skip=()
results=$REPO/benches/RESULTS.md
rows=()
while (($#)); do
    case $1 in
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage_error "--runs needs a positive number"; runs=$2; shift 2 ;;
    --only) [[ -n ${2:-} ]] || usage_error "--only needs a list"; only=$2; shift 2 ;;
    --skip) [[ -n ${2:-} ]] || usage_error "--skip needs a list"; skip+=("$2"); shift 2 ;;
    --no-legacy) skip+=(legacy); shift ;;
    --no-mydumper) skip+=(mydumper); shift ;;
    --no-duckdb) skip+=(duckdb); shift ;;
    --results) [[ -n ${2:-} ]] || usage_error "--results needs a file name"
        results=$2; [[ $results == /* ]] || results=$CALLER_DIR/$results; shift 2 ;;
    -h | --help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage_error "unknown option $1" ;;
    *) [[ $1 =~ ^[1-9][0-9]*$ ]] || usage_error "a row count must be a positive number, not '$1'"
        rows+=("$1"); shift ;;
    esac
done
((${#rows[@]})) || rows=(1000000 10000000)

declare -A want=()
expand "$only"
for line in "${expanded[@]}"; do want[$line]=1; done
for list in "${skip[@]}"; do
    expand "$list"
    for line in "${expanded[@]}"; do unset "want[$line]"; done
done
((${#want[@]})) || usage_error "no line left to run"
on() { [[ -n ${want[$1]:-} ]]; }

OUT=$REPO/target/bench-out
mkdir -p "$OUT"
RAW=$OUT/raw.tsv
NOTES=$OUT/notes.txt # skipped lines and tool versions, printed and copied into the results
: >"$RAW"
: >"$NOTES"
note() { echo "   $*"; printf '%s\n' "$*" >>"$NOTES"; }
# drop NAME WHY: the line NAME is not run, and the results say why.
drop() {
    if on "$1"; then
        note "skipped \`$1\`: $2"
        unset "want[$1]"
    fi
}

command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed" >&2; exit 1; }

echo "== building (release)"
cargo build --release --quiet
GD=$REPO/target/release/gold_digger

# What this build can do: lines for features it lacks are skipped, not failed, so the script
# runs on every branch.
gd_help=$("$GD" --help 2>&1) || true
grep -q -- ndjson <<<"$gd_help" || drop ndjson "this build has no --format ndjson"
grep -q -- --compress <<<"$gd_help" || { drop zst "this build has no --compress"; drop gz "this build has no --compress"; }
grep -qi -- parquet <<<"$gd_help" || drop parquet "this build has no --format parquet"
if ! grep -q -- --protocol <<<"$gd_help"; then
    drop text "this build has no --protocol text|binary"
    drop binary "this build has no --protocol text|binary"
fi
grep -q -- --threads <<<"$gd_help" || { drop j2 "this build has no --threads"; drop j4 "this build has no --threads"; }

LEGACY_ROOT=$REPO/target/bench-tools/gd-0.2.5
LEGACY=$LEGACY_ROOT/bin/gold_digger
if on legacy && [[ ! -x $LEGACY ]]; then
    echo "== installing gold_digger 0.2.5 from crates.io into $LEGACY_ROOT (once)"
    cargo install gold_digger --version 0.2.5 --no-default-features --features json,csv \
        --root "$LEGACY_ROOT" --locked --quiet || drop legacy "could not install gold_digger 0.2.5"
fi

if on mydumper && ! command -v mydumper >/dev/null; then
    echo "== installing mydumper (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mydumper >/dev/null ||
        drop mydumper "could not install mydumper with apt-get"
fi

# DuckDB from PyPI only: the mysql_scanner extension is the file the pip package ships, loaded
# by path with automatic extension downloads off, so nothing comes from DuckDB's own server.
DUCKDB_VENV=$REPO/target/bench-tools/duckdb-venv
DUCKDB_PY=$DUCKDB_VENV/bin/python
duckdb_ext() {
    find "$DUCKDB_VENV" -path '*duckdb_extension_mysql_scanner*' -name 'mysql_scanner.duckdb_extension' \
        -print -quit 2>/dev/null
}
duckdb_ready() {
    [[ -x $DUCKDB_PY && -n $(duckdb_ext) ]] &&
        "$DUCKDB_PY" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null
}
if on duckdb && ! duckdb_ready; then
    echo "== installing duckdb $DUCKDB_VERSION and its mysql_scanner extension from PyPI into $DUCKDB_VENV (once)"
    { python3 -m venv --clear "$DUCKDB_VENV" &&
        "$DUCKDB_VENV/bin/pip" install --quiet --disable-pip-version-check \
            "duckdb==$DUCKDB_VERSION" "duckdb-extension-mysql-scanner==$DUCKDB_VERSION" &&
        duckdb_ready; } >"$OUT/duckdb-install.log" 2>&1 ||
        { cat "$OUT/duckdb-install.log" >&2; drop duckdb "could not install duckdb $DUCKDB_VERSION from PyPI"; }
fi
if on duckdb; then
    DUCKDB_EXT=$(duckdb_ext)
    # COPY returns the number of rows written: a short copy fails the run instead of timing it.
    cat >"$OUT/duckdb_copy.py" <<'PY'
import sys, duckdb
ext, port, table, dest, rows = sys.argv[1:6]
con = duckdb.connect()
con.execute("SET autoinstall_known_extensions = false")
con.execute("SET autoload_known_extensions = false")
con.execute("SET enable_progress_bar = false")
con.execute(f"LOAD '{ext}'")
con.execute(f"ATTACH 'host=127.0.0.1 port={port} user=gd password=gd_pass database=bench' "
            "AS m (TYPE mysql, READ_ONLY)")
written = con.execute(f"COPY (SELECT * FROM m.bench.{table}) TO '{dest}' (FORMAT parquet)").fetchone()[0]
if written != int(rows):
    sys.exit(f"duckdb wrote {written} rows instead of {rows}")
PY
    note "DuckDB: duckdb $("$DUCKDB_PY" -c 'import importlib.metadata as m; print(m.version("duckdb"), "and duckdb-extension-mysql-scanner", m.version("duckdb-extension-mysql-scanner"))') from PyPI (\`LOAD '…/mysql_scanner.duckdb_extension'\`, \`ATTACH … (TYPE mysql, READ_ONLY)\`, \`COPY (SELECT * FROM m.bench.mixed_N) TO 'x.parquet' (FORMAT parquet)\`, its default compression and row groups), run from Python: its start, the LOAD and the ATTACH are in the figures"
fi

scripts/test-db.sh start
eval "$(scripts/test-db.sh env)"
SERVER_PID=$(cat "$REPO/target/test-db/mysqld.pid")
URL="mysql://gd:gd_pass@127.0.0.1:$GD_TEST_PORT/bench"
TICKS=$(getconf CLK_TCK)

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
    printf '   %-34s %6.2fs wall  %6.2fs cpu  %7d KiB  server %5.2fs  %9.1f MB\n' "$label" "$wall" \
        "$(python3 -c "print($user + $sys)")" "$rss" "$(python3 -c "print(($after - $before) / $TICKS)")" \
        "$(python3 -c "print($bytes / 1e6)")"
    rm -rf "$file"
}

# gd LABEL ROWS OUTFILE ARGS...: gold_digger into OUTFILE.
gd() {
    local label=$1 n=$2 file=$3; shift 3
    measure "$label" "$n" "$file" "$GD" --db-url "$URL" "$@" -o "$file"
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
        if on csv; then gd "gold_digger csv" "$n" "$OUT/out.csv" -q "$q"; fi
        if on dd; then
            # The kernel's cost of writing that many bytes to a file here the way gold_digger
            # does (2 MiB direct writes, fsync): part of its system time.
            csv_bytes=$(awk -F'\t' -v n="$n" '$1 == "gold_digger csv" && $2 == n { b = $7 } END { print b + 0 }' "$RAW")
            if ((csv_bytes >= 2097152)); then
                measure "dd, CSV's bytes" "$n" "$OUT/dd.out" \
                    dd if=/dev/zero of="$OUT/dd.out" bs=2M count=$((csv_bytes / 2097152)) oflag=direct conv=fsync status=none
            elif ((r == 1)); then
                note "skipped \`dd\` at $n rows: it needs the csv line's output of 2 MiB or more"
            fi
        fi
        if on mariadb; then
            # shellcheck disable=SC2016 # $1..$3 are the inner shell's arguments
            measure "mariadb --batch" "$n" "$OUT/out.mariadb.tsv" \
                sh -c 'exec mariadb --no-defaults -h127.0.0.1 -P"$1" -ugd -pgd_pass --batch --quick --raw -e "$2" bench >"$3"' \
                sh "$GD_TEST_PORT" "$q" "$OUT/out.mariadb.tsv"
        fi
        if on binary; then gd "gold_digger csv --protocol binary" "$n" "$OUT/out.csv" -q "$q" --protocol binary; fi
        if on parquet; then gd "gold_digger parquet" "$n" "$OUT/out.parquet" -q "$q"; fi
        if on j2; then gd "gold_digger csv -j 2" "$n" "$OUT/out.csv" -j 2 --table "$table"; fi
        if on duckdb; then
            measure "duckdb parquet" "$n" "$OUT/out.duckdb.parquet" \
                "$DUCKDB_PY" "$OUT/duckdb_copy.py" "$DUCKDB_EXT" "$GD_TEST_PORT" "$table" "$OUT/out.duckdb.parquet" "$n"
        fi
        if on text; then gd "gold_digger csv --protocol text" "$n" "$OUT/out.csv" -q "$q" --protocol text; fi
        if on mydumper; then
            measure "mydumper -t 2" "$n" "$OUT/mydumper" mydumper -h 127.0.0.1 -P "$GD_TEST_PORT" -u gd \
                -p gd_pass -B bench -T "$table" -t 2 -r 100000 -o "$OUT/mydumper"
        fi
        if on zst; then gd "gold_digger csv.zst" "$n" "$OUT/out.csv.zst" -q "$q"; fi
        if on j4; then gd "gold_digger csv -j 4" "$n" "$OUT/out.csv" -j 4 --table "$table"; fi
        if on tsv; then gd "gold_digger tsv" "$n" "$OUT/out.tsv" -q "$q"; fi
        if on json; then gd "gold_digger json" "$n" "$OUT/out.json" -q "$q"; fi
        if on ndjson; then gd "gold_digger ndjson" "$n" "$OUT/out.ndjson" -q "$q"; fi
        if on binary; then gd "gold_digger json --protocol binary" "$n" "$OUT/out.json" -q "$q" --protocol binary; fi
        if on gz; then gd "gold_digger csv.gz" "$n" "$OUT/out.csv.gz" -q "$q"; fi
        if on text; then gd "gold_digger json --protocol text" "$n" "$OUT/out.json" -q "$q" --protocol text; fi
        if on legacy && ((n <= 1000000)); then
            # 0.2.5 panics on NULL and on non-UTF-8 bytes (it converts every value to a
            # String), so it gets ref_code through COALESCE and fingerprint through HEX.
            measure "gold_digger 0.2.5 csv" "$n" "$OUT/legacy.csv" \
                env DATABASE_URL="$URL" DATABASE_QUERY="$LEGACY_Q FROM $table" OUTPUT_FILE="$OUT/legacy.csv" "$LEGACY"
        fi
    done
done

mkdir -p -- "$(dirname -- "$results")"
python3 - "$RAW" "$results" "$runs" "$NOTES" <<'PY'
import sys, statistics, subprocess, datetime, os
raw, dest, runs, notes_file = sys.argv[1:5]
rows = [l.rstrip("\n").split("\t") for l in open(raw) if l.strip()]
by = {}
for label, n, wall, user, sys_, rss, size, server in rows:
    by.setdefault((int(n), label), []).append(
        (float(wall), float(user) + float(sys_), int(rss), int(size), float(server),
         float(user), float(sys_)))
med = {k: tuple(statistics.median(x[i] for x in v) for i in range(7)) for k, v in by.items()}
ns = sorted({k[0] for k in med})
notes = [l.strip() for l in open(notes_file) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ver = subprocess.run(["mariadb", "--version"], capture_output=True, text=True).stdout.strip()

CSV, JSON, MARIADB, DUCKDB = "gold_digger csv", "gold_digger json", "mariadb --batch", "duckdb parquet"
PARQUET, NDJSON, ZST, GZ = "gold_digger parquet", "gold_digger ndjson", "gold_digger csv.zst", "gold_digger csv.gz"
CSV_TEXT, CSV_BIN = "gold_digger csv --protocol text", "gold_digger csv --protocol binary"
JSON_TEXT, JSON_BIN = "gold_digger json --protocol text", "gold_digger json --protocol binary"
LEGACY, DD = "gold_digger 0.2.5 csv", "dd, CSV's bytes"
ORDER = [CSV, "gold_digger tsv", JSON, NDJSON, ZST, GZ, PARQUET, CSV_TEXT, CSV_BIN, JSON_TEXT,
         JSON_BIN, "gold_digger csv -j 2", "gold_digger csv -j 4", MARIADB, "mydumper -t 2", DUCKDB,
         LEGACY, DD]
labels = ORDER + sorted({k[1] for k in med} - set(ORDER))
# Peak RSS counts as flat when the largest row count's is within the test suite's 10 % of the
# smallest's (streaming::peak_memory_does_not_grow_with_the_row_count).
FLAT = 1.10

# One quantity of a median: (index in the tuple, how to show it).
Q = {"wall": (0, 1, "s"), "cpu": (1, 1, "s"), "rss": (2, 1 / 1024, "MiB"), "size": (3, 1e-6, "MB"),
     "server": (4, 1, "s")}
def value(m, q):
    i, scale, unit = Q[q]
    return m[i] * scale
def show(v, q):
    return f"{v:.2f} {Q[q][2]}" if Q[q][2] == "s" else f"{v:.1f} {Q[q][2]}"
def missing(*names):
    return "n/a: no " + " or ".join(f"`{x}` line" for x in names)
def mark(ok):
    return "**pass**" if ok else "**miss**"

# Target rows: (what, a, b, quantity, limit): a/b ≤ limit; b None: a's value ≤ limit;
# limit None: the ratio is shown, with no target.
def target_rows(specs):
    out = ["| rows | target | measured | |", "|---:|---|---|---|"]
    for n in ns:
        for what, a, b, q, limit in specs:
            ma, mb = med.get((n, a)), med.get((n, b)) if b else None
            if not ma or (b and not mb):
                if limit is None:
                    continue
                lacking = [x for x, m in ((a, ma), (b, mb)) if x and not m]
                out.append(f"| {n:,} | {what} | — | {missing(*lacking)} |")
                continue
            va = value(ma, q)
            if b is None:
                out.append(f"| {n:,} | {what} | {show(va, q)} | {mark(va <= limit)} |")
                continue
            vb = value(mb, q)
            if not vb:
                out.append(f"| {n:,} | {what} | — | n/a: `{b}` measured 0 |")
                continue
            r = va / vb
            out.append(f"| {n:,} | {what} | {r:.2f}× ({show(va, q)} / {show(vb, q)}) | "
                       f"{mark(r <= limit) if limit is not None else '—'} |")
    return out

def flat_rows(what, names):
    out = []
    if len(ns) < 2:
        return out
    for name in names:
        a, b = med.get((ns[0], name)), med.get((ns[-1], name))
        if a and b:
            r = b[2] / a[2]
            out.append(f"| {ns[0]:,} → {ns[-1]:,} | {what}, `{name}` | {r:.2f}× "
                       f"({b[2] / 1024:.1f} / {a[2] / 1024:.1f} MiB) | {mark(r <= FLAT)} |")
    return out

lines = [
    "# Benchmark results", "",
    f"Produced by `scripts/bench.sh` on {datetime.date.today()} — {os.cpu_count()} CPUs ({cpu}), "
    f"{ver.split(',')[0] if ver else 'mariadb'}; medians of {runs} runs, tools alternating; "
    "table `bench.mixed` from `scripts/bench-mixed.sql`; output written to a file on the same disk.",
    "",
    "| rows | tool | wall s | client CPU s | user s | sys s | peak RSS MiB | output MB | server CPU s | wall / mariadb | CPU / mariadb | user / mariadb |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for n in ns:
    base = med.get((n, MARIADB))
    for label in labels:
        m = med.get((n, label))
        if not m:
            continue
        wall, cpu_s, rss, size, server, user, sys_ = m
        rw = f"{wall / base[0]:.2f}" if base and base[0] else "-"
        rc = f"{cpu_s / base[1]:.2f}" if base and base[1] else "-"
        ru = f"{user / base[5]:.2f}" if base and base[5] else "-"
        lines.append(f"| {n:,} | {label} | {wall:.2f} | {cpu_s:.2f} | {user:.2f} | {sys_:.2f} | {rss / 1024:.1f} | {size / 1e6:.1f} | {server:.2f} | {rw} | {rc} | {ru} |")
if len(ns) >= 2:
    flat = []
    for label in labels:
        if not label.startswith("gold_digger") or label == LEGACY:
            continue
        a, b = med.get((ns[0], label)), med.get((ns[-1], label))
        if a and b:
            r = b[2] / a[2]
            flat.append(f"- {label}: {b[2] / 1024:.1f} / {a[2] / 1024:.1f} MiB = {r:.2f}"
                        f" ({'flat' if r <= FLAT else 'grows'})")
    if flat:
        lines += ["", f"Peak RSS ratio, largest / smallest row count (flat: ≤ {FLAT:.2f}):"] + flat
for n in ns:
    j1, j2, md = (med.get((n, l)) for l in (CSV, "gold_digger csv -j 2", "mydumper -t 2"))
    if not j2:
        continue
    parts = []
    if md and md[0]:
        parts.append(f"wall {j2[0] / md[0]:.2f}x mydumper -t 2's")
    if j1 and j1[1]:
        parts.append(f"client CPU {j2[1] / j1[1]:.2f}x the one-connection CSV export's")
    if parts:
        lines += ["", f"{n:,} rows, `-j 2`: " + ", ".join(parts) + "."]
if any(k[1] == DD for k in med):
    lines += ["", "`dd, CSV's bytes` writes as many bytes as the CSV export from /dev/zero, in 2 MiB `O_DIRECT` "
              "blocks with an fsync (as gold_digger does): the kernel's cost of the output alone, in the same series."]
if any(k[1] == LEGACY for k in med):
    lines += ["", "gold_digger 0.2.5 cannot export `SELECT *` of this table: it panics on the first NULL "
              "(`Couldn't convert the value Null to a desired type`) and on non-UTF-8 bytes. It runs "
              "`COALESCE(ref_code, '')` and `HEX(fingerprint)` instead, so its output differs slightly."]
if notes:
    lines += ["", "This run:"] + [f"- {x}" for x in notes]

TARGETS_NOTE = ("The targets are stated for 10 M rows; at other row counts the marks are only "
                "indicative. Every figure below is computed by `scripts/bench.sh` from the medians above.")
pipeline_formats = [NDJSON, ZST, GZ, PARQUET]
if any(k[1] in pipeline_formats + [DUCKDB] for k in med):
    lines += ["", "## Pipeline formats (issue 14)", "", TARGETS_NOTE,
              "`csv.zst` and `csv.gz` use the default levels (zstd 1, gzip 4); DuckDB writes with its own "
              "defaults (Snappy, row groups of 122,880 rows).", ""]
    lines += target_rows([
        ("Parquet wall ≤ 0.4× DuckDB's", PARQUET, DUCKDB, "wall", 0.4),
        ("Parquet peak RSS ≤ 0.5× DuckDB's", PARQUET, DUCKDB, "rss", 0.5),
        ("Parquet peak RSS ≤ 64 MiB", PARQUET, None, "rss", 64),
        ("Parquet file ≤ 1.1× DuckDB's", PARQUET, DUCKDB, "size", 1.1),
        ("Parquet client CPU ≤ 0.5× the mariadb client's", PARQUET, MARIADB, "cpu", 0.5),
        ("Parquet server CPU / DuckDB's", PARQUET, DUCKDB, "server", None),
        ("NDJSON wall ≤ 1.05× JSON's (as fast, ±5 %)", NDJSON, JSON, "wall", 1.05),
        ("NDJSON client CPU / JSON's", NDJSON, JSON, "cpu", None),
        ("csv.zst client CPU ≤ 0.5× the mariadb client's", ZST, MARIADB, "cpu", 0.5),
        ("zstd's cost: csv.zst client CPU / plain CSV's", ZST, CSV, "cpu", None),
        ("zstd's cost: csv.zst wall / plain CSV's", ZST, CSV, "wall", None),
        ("zstd: csv.zst file / plain CSV's", ZST, CSV, "size", None),
        ("gzip's cost: csv.gz client CPU / plain CSV's", GZ, CSV, "cpu", None),
        ("gzip's cost: csv.gz wall / plain CSV's", GZ, CSV, "wall", None),
        ("gzip: csv.gz file / plain CSV's", GZ, CSV, "size", None),
    ])
    lines += flat_rows("peak RSS flat", pipeline_formats)
if any(k[1] in (CSV_TEXT, CSV_BIN, JSON_TEXT, JSON_BIN) for k in med):
    lines += ["", "## Protocols (issue 13)", "", TARGETS_NOTE, ""]
    lines += target_rows([
        ("server CPU, CSV: `--protocol binary` ≤ 0.8× `--protocol text`", CSV_BIN, CSV_TEXT, "server", 0.8),
        ("server CPU, JSON: `--protocol binary` ≤ 0.8× `--protocol text`", JSON_BIN, JSON_TEXT, "server", 0.8),
        ("wall, CSV binary ≤ 0.85× the mariadb client's", CSV_BIN, MARIADB, "wall", 0.85),
        ("wall, JSON binary ≤ 0.85× the mariadb client's", JSON_BIN, MARIADB, "wall", 0.85),
        ("client CPU, CSV binary ≤ 0.3× the mariadb client's", CSV_BIN, MARIADB, "cpu", 0.3),
        ("client CPU, JSON binary ≤ 0.4× the mariadb client's", JSON_BIN, MARIADB, "cpu", 0.4),
        ("peak RSS, CSV binary ≤ 20 MiB", CSV_BIN, None, "rss", 20),
        ("peak RSS, JSON binary ≤ 20 MiB", JSON_BIN, None, "rss", 20),
        ("wall, CSV: binary / text", CSV_BIN, CSV_TEXT, "wall", None),
        ("client CPU, CSV: binary / text", CSV_BIN, CSV_TEXT, "cpu", None),
    ])
    lines += flat_rows("peak RSS flat", [CSV_BIN, JSON_BIN])

# Sections written by hand (a `## ` heading this script does not write) are kept, after the
# generated ones: they hold the analysis of a run, which the next run does not redo.
GENERATED = ("## Pipeline formats", "## Protocols")
kept, current = [], None
if os.path.exists(dest):
    for line in open(dest):
        if line.startswith("## "):
            current = None if line.startswith(GENERATED) else []
            if current is not None:
                kept.append(current)
        if current is not None:
            current.append(line.rstrip("\n"))
for section in kept:
    while section and not section[-1].strip():
        section.pop()
    lines += [""] + section
text = "\n".join(lines) + "\n"
open(dest, "w").write(text)
print(text)
PY
