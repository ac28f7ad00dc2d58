#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script):
#   1. installs what it needs: mariadb-server/-client (through scripts/test-db.sh), zstd (for the
#      compressed-output tests), pyarrow in target/py (for the Parquet tests), and the rustfmt
#      and clippy components if they are missing;
#   2. starts (or reuses) the throwaway MariaDB and exports its GD_TEST_* variables;
#   3. runs cargo fmt --check, cargo clippy -D warnings and cargo test for the whole workspace,
#      then the integration tests a second time with GD_TEST_PROTOCOL=text: every export of the
#      first run uses gold_digger's default protocol (binary), of the second the text protocol.
# Every step runs even if an earlier one failed; the exit code is non-zero if any failed.
# The integration tests fail (they never skip) when the server cannot be reached.
set -euo pipefail

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO"

say() { printf '\n== %s\n' "$*"; }

command -v cargo >/dev/null || {
    echo "test.sh: cargo not found (install Rust with rustup)" >&2
    exit 1
}
for component in rustfmt clippy; do
    tool=${component/rustfmt/fmt}
    if ! cargo "$tool" --version >/dev/null 2>&1; then
        say "installing the $component component"
        rustup component add "$component"
    fi
done

# The compressed-output tests decompress with the system's gzip and zstd.
if ! command -v zstd >/dev/null; then
    say "installing zstd (apt-get)"
    apt-get install -y zstd >/dev/null || { apt-get update >/dev/null && apt-get install -y zstd >/dev/null; }
fi

# The Parquet tests read the files with pyarrow (an independent reader), from a venv under
# target/; they find its python through GD_TEST_PYTHON and fail without it.
PY_VENV=$REPO/target/py
if ! "$PY_VENV/bin/python" -c 'import pyarrow' >/dev/null 2>&1; then
    say "installing pyarrow into target/py (python3 -m venv, pip)"
    if ! python3 -m venv "$PY_VENV" >/dev/null 2>&1; then
        # Debian's python3 ships venv in a package of its own.
        apt-get install -y python3-venv >/dev/null ||
            { apt-get update >/dev/null && apt-get install -y python3-venv >/dev/null; }
        python3 -m venv "$PY_VENV"
    fi
    "$PY_VENV/bin/pip" install --quiet --disable-pip-version-check pyarrow
fi
export GD_TEST_PYTHON=$PY_VENV/bin/python

say "test database (scripts/test-db.sh start)"
scripts/test-db.sh start
eval "$(scripts/test-db.sh env)"
export GD_TEST_SOCKET GD_TEST_PORT GD_TEST_URL GD_TEST_SOCKET_URL

failed=()
step() {
    say "$*"
    if ! "$@"; then failed+=("$*"); fi
}
step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets -- -D warnings
step cargo test --workspace
step env GD_TEST_PROTOCOL=text cargo test --test integration

if ((${#failed[@]})); then
    say "FAILED:"
    printf '  %s\n' "${failed[@]}"
    exit 1
fi
say "all checks passed"
