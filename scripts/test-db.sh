#!/usr/bin/env bash
# Throwaway MariaDB server for gold_digger's tests, demo and benchmarks.
#
#   scripts/test-db.sh start          install MariaDB if needed, start (or reuse) the server,
#                                     create users and load tests/fixtures/*.sql
#   scripts/test-db.sh stop           shut the server down (the data stays for the next start)
#   scripts/test-db.sh status         say whether it runs; exit 0 if it does, 3 if not
#   scripts/test-db.sh env            print `export GD_TEST_...` lines: eval "$(scripts/test-db.sh env)"
#   scripts/test-db.sh seed-bench N   build bench.mixed_N (N rows) with scripts/bench-mixed.sql,
#                                     unless it already exists with N rows
#   scripts/test-db.sh reload         load the fixtures again even if they did not change
#   scripts/test-db.sh client [ARG…]  run the mariadb client as root over the socket
#   scripts/test-db.sh destroy        stop the server and delete its data directory
#
# Everything lives under <repo>/target/test-db/ (override with GD_TEST_DB_DIR). The server listens
# on 127.0.0.1:${GD_TEST_PORT:-33306} and on a Unix socket; root@localhost logs in by unix_socket
# only. Accounts: gd / gd_pass (gd_test.*, bench.*, PROCESS, CONNECTION ADMIN), gd_nopriv /
# other_pass (no privileges), gd_tls / tls_pass (REQUIRE SSL), gd_x509 / x509_pass (REQUIRE
# X509), gd_ed / ed_pass (IDENTIFIED VIA ed25519); the last three may read gd_test.*.
# TLS: `start` generates once, under target/test-db/tls/, a CA (ca.pem), the server's
# certificate for localhost + 127.0.0.1 (server.pem/.key), a client certificate (client.pem/.key),
# and for negative tests an expired server certificate (expired.*), one from an unknown CA
# (unknown.*, unknown-ca.pem) and one for another host name (wronghost.*), all X.509 v3.
# Every command is idempotent.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
BASE=${GD_TEST_DB_DIR:-$REPO/target/test-db}
mkdir -p -- "$BASE"
BASE=$(cd -- "$BASE" && pwd -P)
DATADIR=$BASE/data
PIDFILE=$BASE/mysqld.pid
ERRLOG=$BASE/error.log
PORTFILE=$BASE/port
LOCKFILE=$BASE/lock
SOCK=$BASE/mysqld.sock
# A Unix socket path must fit in sun_path (108 bytes); fall back to a short path under /tmp.
if ((${#SOCK} > 100)); then
    SOCK=/tmp/gd-test-db-$(printf '%s' "$BASE" | md5sum | cut -c1-12)/mysqld.sock
fi
PORT=${GD_TEST_PORT:-33306}
WAIT_SECS=${GD_TEST_DB_WAIT:-120}
TLS_DIR=$BASE/tls
FIXTURES_DIR=$REPO/tests/fixtures
MIXED_SQL=$SCRIPT_DIR/bench-mixed.sql

# Debian keeps the server binaries in /usr/sbin, which is not on every PATH.
export PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

log() { printf 'test-db: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# --- installation ------------------------------------------------------------------------------
ensure_installed() {
    if command -v mariadbd >/dev/null && command -v mariadb >/dev/null &&
        command -v mariadb-install-db >/dev/null && command -v mariadb-admin >/dev/null; then
        return
    fi
    log "MariaDB server or client not found: installing mariadb-server and mariadb-client"
    if [[ $EUID -ne 0 ]]; then
        die "installing packages needs root: run 'apt-get install -y mariadb-server mariadb-client' as root"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends mariadb-server mariadb-client >&2
    command -v mariadbd >/dev/null || die "mariadbd still not found after installing mariadb-server"
}

# --- talking to the server ---------------------------------------------------------------------
# Root over the Unix socket (unix_socket authentication: the OS user must be root).
sql() {
    mariadb --no-defaults --protocol=socket -S "$SOCK" -uroot \
        --default-character-set=utf8mb4 --max-allowed-packet=1G "$@"
}

answers() {
    [[ -S $SOCK ]] && mariadb-admin --no-defaults --protocol=socket -S "$SOCK" -uroot \
        --connect-timeout=2 ping >/dev/null 2>&1
}

# pid_alive PID [any]: the process exists, is not a zombie (a killed server whose parent has not
# reaped it yet still answers kill -0) and is a mariadbd (any name with "any": right after the
# fork it is still a shell).
pid_alive() {
    local pid=$1 any=${2:-} _ comm state
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -r /proc/$pid/stat ]] || return 0
    read -r _ comm state _ <"/proc/$pid/stat" || return 1
    [[ $state != Z && ($any == any || $comm == "(mariadbd)") ]]
}

server_pid() {
    local pid
    [[ -f $PIDFILE ]] || return 1
    pid=$(<"$PIDFILE")
    [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" && printf '%s\n' "$pid"
}

running() { server_pid >/dev/null && answers; }

show_log_tail() {
    if [[ -f $ERRLOG ]]; then
        log "last lines of $ERRLOG:"
        tail -n 30 -- "$ERRLOG" >&2
    fi
}

# --- TLS material ------------------------------------------------------------------------------
ensure_openssl() {
    command -v openssl >/dev/null && return
    log "openssl not found: installing it"
    [[ $EUID -eq 0 ]] || die "installing openssl needs root: run 'apt-get install -y openssl' as root"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends openssl >&2
}

# sign NAME CA SUBJECT SAN EKU [START END]: NAME.key + NAME.pem, an X.509 v3 leaf signed by CA
# (CA.pem/CA.key); with START/END (YYYYMMDDHHMMSSZ) the validity is set explicitly through
# `openssl ca`, which is how an already expired certificate is made.
sign() {
    local name=$1 ca=$2 subject=$3 san=$4 eku=$5 start=${6:-} end=${7:-}
    local ext=$TLS_DIR/$name.ext
    {
        printf 'basicConstraints=critical,CA:FALSE\n'
        printf 'keyUsage=critical,digitalSignature,keyEncipherment\n'
        printf 'extendedKeyUsage=%s\n' "$eku"
        [[ -n $san ]] && printf 'subjectAltName=%s\n' "$san"
    } >"$ext"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$TLS_DIR/$name.key" \
        -out "$TLS_DIR/$name.csr" -subj "$subject" 2>/dev/null
    if [[ -z $start ]]; then
        openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$TLS_DIR/$ca.pem" -CAkey "$TLS_DIR/$ca.key" \
            -CAcreateserial -days 3650 -sha256 -extfile "$ext" -out "$TLS_DIR/$name.pem" 2>/dev/null
    else
        local cadir=$TLS_DIR/ca-$name
        mkdir -p "$cadir"
        : >"$cadir/index.txt"
        cat >"$cadir/ca.cnf" <<CNF
[ca]
default_ca = x
[x]
database = $cadir/index.txt
new_certs_dir = $cadir
serial = $cadir/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CNF
        printf '1000\n' >"$cadir/serial"
        openssl ca -batch -config "$cadir/ca.cnf" -cert "$TLS_DIR/$ca.pem" -keyfile "$TLS_DIR/$ca.key" \
            -startdate "$start" -enddate "$end" -extfile "$ext" -notext \
            -in "$TLS_DIR/$name.csr" -out "$TLS_DIR/$name.pem" 2>/dev/null
        rm -rf -- "$cadir"
    fi
    rm -f -- "$TLS_DIR/$name.csr" "$ext"
}

make_ca() {
    local name=$1 subject=$2
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.pem" \
        -days 3650 -sha256 -subj "$subject" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

# Generated once; delete target/test-db/tls to make new ones (then restart the server).
ensure_tls_material() {
    [[ -f $TLS_DIR/.complete ]] && return
    ensure_openssl
    log "generating TLS test certificates in $TLS_DIR"
    rm -rf -- "$TLS_DIR"
    mkdir -p -- "$TLS_DIR"
    local good_san='DNS:localhost,IP:127.0.0.1'
    make_ca ca "/CN=gold_digger test CA"
    make_ca unknown-ca "/CN=gold_digger unknown CA"
    # webpki ignores the CN: the names that count are in the subjectAltName.
    sign server ca "/CN=localhost" "$good_san" serverAuth
    sign client ca "/CN=gd_x509" "" clientAuth
    sign expired ca "/CN=localhost" "$good_san" serverAuth 20200101000000Z 20210101000000Z
    sign unknown unknown-ca "/CN=localhost" "$good_san" serverAuth
    sign wronghost ca "/CN=wrong.example" "DNS:wrong.example" serverAuth
    rm -f -- "$TLS_DIR"/*.srl
    chmod 600 -- "$TLS_DIR"/*.key
    touch -- "$TLS_DIR/.complete"
}

# --- start / stop ------------------------------------------------------------------------------
init_datadir() {
    [[ -d $DATADIR/mysql ]] && return
    log "creating a new data directory in $DATADIR"
    rm -rf -- "$DATADIR"
    mkdir -p -- "$DATADIR"
    local user_opt=()
    [[ $EUID -eq 0 ]] && user_opt=(--user=root)
    if ! mariadb-install-db --no-defaults --auth-root-authentication-method=socket \
        --skip-test-db --skip-name-resolve "${user_opt[@]}" --datadir="$DATADIR" \
        >"$BASE/install-db.log" 2>&1; then
        tail -n 30 -- "$BASE/install-db.log" >&2
        rm -rf -- "$DATADIR"
        die "mariadb-install-db failed (full log: $BASE/install-db.log)"
    fi
}

start_server() {
    if running; then
        # A server started by an older version of this script has no TLS: restart it once.
        if [[ $(sql -N -B -e 'SELECT @@have_ssl' 2>/dev/null) != YES ]]; then
            log "server (pid $(server_pid)) runs without TLS: restarting it with the test certificates"
            stop_server
        else
            log "server already running (pid $(server_pid), socket $SOCK)"
            return
        fi
    fi
    if answers; then
        die "something answers on $SOCK but $PIDFILE does not name a live server; stop it first"
    fi
    local stale
    if stale=$(server_pid); then
        # Alive but not answering: maybe still starting (another start is racing us) or hung.
        log "server pid $stale exists but does not answer yet; waiting for it"
        wait_ready "$stale"
        return
    fi
    rm -f -- "$PIDFILE" "$SOCK"
    mkdir -p -- "$(dirname -- "$SOCK")"
    init_datadir
    local user_opt=()
    [[ $EUID -eq 0 ]] && user_opt=(--user=root)
    log "starting mariadbd on 127.0.0.1:$PORT, socket $SOCK"
    # Sized for bench.mixed_10000000 (~2 GB of InnoDB data): the buffer pool holds it all.
    # Durability is traded for load speed: this is a throwaway server.
    setsid mariadbd --no-defaults "${user_opt[@]}" \
        --datadir="$DATADIR" --socket="$SOCK" --port="$PORT" --bind-address=127.0.0.1 \
        --pid-file="$PIDFILE" --log-error="$ERRLOG" --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --max-allowed-packet=1G --max-connections=200 \
        --innodb-buffer-pool-size="${GD_TEST_BUFFER_POOL:-3G}" \
        --innodb-log-file-size=1G --innodb-log-buffer-size=64M \
        --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
        --skip-log-bin --performance-schema=OFF \
        --ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server.key" \
        </dev/null >>"$BASE/mariadbd.out" 2>&1 8>&- 9>&- &
    local pid=$!
    printf '%s\n' "$PORT" >"$PORTFILE"
    wait_ready "$pid"
}

# wait_ready PID: bounded wait until the server answers on its socket.
wait_ready() {
    local pid=$1 deadline=$((SECONDS + WAIT_SECS))
    until answers; do
        if ! pid_alive "$pid" any; then
            show_log_tail
            die "mariadbd (pid $pid) exited during start-up; see $ERRLOG"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail
            die "mariadbd (pid $pid) did not answer on $SOCK within ${WAIT_SECS}s"
        fi
        sleep 0.2
    done
    log "server is up (pid $pid)"
}

stop_server() {
    local pid
    if ! pid=$(server_pid); then
        log "server is not running"
        rm -f -- "$PIDFILE"
        return
    fi
    log "stopping mariadbd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + WAIT_SECS))
    while pid_alive "$pid"; do
        if ((SECONDS >= deadline)); then
            log "mariadbd (pid $pid) did not stop within ${WAIT_SECS}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f -- "$PIDFILE"
    log "stopped"
}

# --- seeding -----------------------------------------------------------------------------------
# Accounts and grants. Re-running it resets passwords and privileges to these values.
seed_accounts() {
    sql <<'SQL'
CREATE DATABASE IF NOT EXISTS gd_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE DATABASE IF NOT EXISTS bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'gd'@'%' IDENTIFIED BY 'gd_pass';
CREATE USER IF NOT EXISTS 'gd'@'localhost' IDENTIFIED BY 'gd_pass';
CREATE USER IF NOT EXISTS 'gd_nopriv'@'%' IDENTIFIED BY 'other_pass';
ALTER USER 'gd'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('gd_pass');
ALTER USER 'gd'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('gd_pass');
ALTER USER 'gd_nopriv'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('other_pass');
GRANT ALL PRIVILEGES ON gd_test.* TO 'gd'@'%', 'gd'@'localhost';
GRANT ALL PRIVILEGES ON bench.* TO 'gd'@'%', 'gd'@'localhost';
-- PROCESS to see other sessions; CONNECTION ADMIN is what KILL of another user's query needs
-- in MariaDB 10.11 (SUPER is not needed).
GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'gd'@'%', 'gd'@'localhost';
-- RELOAD for the consistent snapshot of parallel exports (BACKUP STAGE BLOCK_COMMIT).
GRANT RELOAD ON *.* TO 'gd'@'%', 'gd'@'localhost';
-- TLS and authentication-method accounts (issue 3).
CREATE USER IF NOT EXISTS 'gd_tls'@'%' IDENTIFIED BY 'tls_pass';
ALTER USER 'gd_tls'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('tls_pass') REQUIRE SSL;
CREATE USER IF NOT EXISTS 'gd_x509'@'%' IDENTIFIED BY 'x509_pass';
ALTER USER 'gd_x509'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('x509_pass') REQUIRE X509;
GRANT SELECT ON gd_test.* TO 'gd_tls'@'%', 'gd_x509'@'%';
FLUSH PRIVILEGES;
SQL
    # ed25519 is a plugin library in MariaDB 10.11; INSTALL fails when it is already there.
    if [[ $(sql -N -B -e "SELECT COUNT(*) FROM information_schema.PLUGINS
            WHERE PLUGIN_NAME = 'ed25519' AND PLUGIN_STATUS = 'ACTIVE'") != 1 ]]; then
        sql -e "INSTALL SONAME 'auth_ed25519'"
    fi
    sql <<'SQL'
CREATE USER IF NOT EXISTS 'gd_ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed_pass');
ALTER USER 'gd_ed'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed_pass');
GRANT SELECT ON gd_test.* TO 'gd_ed'@'%';
FLUSH PRIVILEGES;
SQL
}

fixture_files() {
    shopt -s nullglob
    local f
    for f in "$FIXTURES_DIR"/*.sql; do printf '%s\n' "$f"; done
}

# Loads tests/fixtures/*.sql when their content changed since the last load (the checksum is kept
# in gd_test._fixtures_loaded, so a wiped or hand-edited database is noticed too).
load_fixtures() {
    local force=${1:-}
    local -a files
    mapfile -t files < <(fixture_files)
    if ((${#files[@]} == 0)); then
        log "no fixtures in $FIXTURES_DIR"
        return
    fi
    local sum have
    sum=$(cat -- "${files[@]}" | md5sum | cut -c1-32)
    have=$(sql -N -B -e "SELECT checksum FROM gd_test._fixtures_loaded" 2>/dev/null || true)
    if [[ -z $force && $have == "$sum" ]]; then
        log "fixtures unchanged (${#files[@]} files)"
        return
    fi
    local f
    for f in "${files[@]}"; do
        log "loading ${f#"$REPO"/}"
        sql --database=gd_test <"$f" || die "loading $f failed"
    done
    sql --database=gd_test <<SQL
CREATE OR REPLACE TABLE gd_test._fixtures_loaded (checksum CHAR(32) NOT NULL);
INSERT INTO gd_test._fixtures_loaded VALUES ('$sum');
SQL
}

# seed-bench N: bench.mixed_N with N rows, built by bench-mixed.sql (cached across runs).
seed_bench() {
    local n=${1:-}
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "seed-bench needs a positive row count, e.g. 'seed-bench 1000000'"
    local table=mixed_$n
    running || die "the server is not running: run '$0 start' first"
    exec 8>"$BASE/seed-bench.lock"
    flock 8 # bench-mixed.sql builds in bench.gd_mixed_build first: one seed at a time
    local exists count
    exists=$(sql -N -B -e "SELECT COUNT(*) FROM information_schema.tables
        WHERE table_schema = 'bench' AND table_name = '$table'")
    if [[ $exists == 1 ]]; then
        count=$(sql -N -B -e "SELECT COUNT(*) FROM bench.\`$table\`")
        if [[ $count == "$n" ]]; then
            log "bench.$table already has $n rows"
            return
        fi
        log "bench.$table has $count rows instead of $n: rebuilding it"
    fi
    [[ -r $MIXED_SQL ]] || die "cannot read $MIXED_SQL"
    log "building bench.$table ($n rows) from $MIXED_SQL"
    local t0=$SECONDS
    { printf "SET @n=%s, @target='%s';\n" "$n" "$table"; cat -- "$MIXED_SQL"; } | sql -t >&2 ||
        die "building bench.$table failed"
    log "bench.$table built in $((SECONDS - t0))s"
}

# --- environment -------------------------------------------------------------------------------
# Percent-encodes a path for the query string of a URL (keeps unreserved characters and '/').
urlencode_path() {
    local s=$1 out='' c i
    local LC_ALL=C
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
        [A-Za-z0-9._~/-]) out+=$c ;;
        *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

print_env() {
    local port=$PORT
    if running && [[ -f $PORTFILE ]]; then port=$(<"$PORTFILE"); fi
    running || log "warning: the server is not running (start it with '$0 start')"
    printf 'export GD_TEST_SOCKET=%s\n' "$(quote "$SOCK")"
    printf 'export GD_TEST_PORT=%s\n' "$(quote "$port")"
    printf 'export GD_TEST_URL=%s\n' "$(quote "mysql://gd:gd_pass@127.0.0.1:$port/gd_test")"
    printf 'export GD_TEST_SOCKET_URL=%s\n' \
        "$(quote "mysql://root@localhost/gd_test?socket=$(urlencode_path "$SOCK")")"
    printf 'export GD_TEST_DB_DIR=%s\n' "$(quote "$BASE")"
    printf 'export GD_TEST_TLS_DIR=%s\n' "$(quote "$TLS_DIR")"
}

status() {
    local pid
    if pid=$(server_pid) && answers; then
        local port=$PORT version
        [[ -f $PORTFILE ]] && port=$(<"$PORTFILE")
        version=$(sql -N -B -e 'SELECT VERSION()')
        printf 'running: pid %s, MariaDB %s, 127.0.0.1:%s, socket %s, data %s\n' \
            "$pid" "$version" "$port" "$SOCK" "$DATADIR"
        return 0
    fi
    if pid=$(server_pid); then
        printf 'not answering: pid %s is alive but %s does not answer (see %s)\n' "$pid" "$SOCK" "$ERRLOG"
    else
        printf 'stopped (data %s)\n' "$DATADIR"
    fi
    return 3
}

# --- main --------------------------------------------------------------------------------------
cmd=${1:-}
[[ -n $cmd ]] || usage
shift

# One command at a time per data directory (start/stop/reload/destroy change shared state).
with_lock() {
    exec 9>"$LOCKFILE"
    flock 9
}

case $cmd in
start)
    ensure_installed
    with_lock
    ensure_tls_material
    start_server
    seed_accounts
    load_fixtures
    ;;
stop)
    with_lock
    stop_server
    ;;
status) status ;;
env) print_env ;;
seed-bench) seed_bench "$@" ;;
reload)
    with_lock
    running || die "the server is not running: run '$0 start' first"
    seed_accounts
    load_fixtures force
    ;;
client)
    running || die "the server is not running: run '$0 start' first"
    sql "$@"
    ;;
destroy)
    with_lock
    stop_server
    log "deleting $DATADIR"
    rm -rf -- "$DATADIR" "$PORTFILE"
    ;;
-h | --help | help) usage 0 ;;
*)
    log "unknown command '$cmd'"
    usage
    ;;
esac
