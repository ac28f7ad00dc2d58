#!/usr/bin/env bash
# Line coverage of unit and integration tests (the integration tests run the real binary
# against the throwaway MariaDB, and its coverage is counted too), with cargo llvm-cov.
#   scripts/coverage.sh            summary per crate (protocol, writers, the rest of the binary)
#   scripts/coverage.sh --html     also an HTML report in target/llvm-cov/html
# Installs cargo-llvm-cov and the llvm-tools-preview component when missing.
set -euo pipefail
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO"

command -v cargo-llvm-cov >/dev/null || cargo install cargo-llvm-cov --locked
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools-preview

scripts/test-db.sh start
eval "$(scripts/test-db.sh env)"
export GD_TEST_SOCKET GD_TEST_PORT GD_TEST_URL GD_TEST_SOCKET_URL

cargo llvm-cov clean --workspace
# Report even when a test fails (then exit non-zero at the end).
status=0
cargo llvm-cov --workspace --no-report --no-fail-fast || status=$?
if [[ ${1:-} == --html ]]; then
    cargo llvm-cov report --workspace --html
fi
json=target/llvm-cov/summary.json
mkdir -p target/llvm-cov
cargo llvm-cov report --workspace --json --summary-only --output-path "$json"
# Group the per-file line counts: the protocol crate, the writers (src/format), and the rest
# of the binary crate; then the whole project.
python3 - "$json" "$REPO" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["data"][0]
root = sys.argv[2].rstrip("/") + "/"
groups = {}
for f in data["files"]:
    path = f["filename"].removeprefix(root)
    lines = f["summary"]["lines"]
    if path.startswith("protocol/"):
        key = "gd-protocol (protocol/)"
    elif path.startswith("src/format/"):
        key = "writers (src/format/)"
    else:
        key = "gold_digger, rest (src/)"
    c, n = groups.get(key, (0, 0))
    groups[key] = (c + lines["covered"], n + lines["count"])
total = data["totals"]["lines"]
groups["whole project"] = (total["covered"], total["count"])
print(f"{'part':28} {'lines':>7} {'covered':>8} {'%':>7}")
for key, (c, n) in groups.items():
    print(f"{key:28} {n:7} {c:8} {100 * c / max(n, 1):6.1f}%")
PY
exit "$status"
