#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, on the stable
# toolchain without a sanitizer (cargo fuzz -s none), installing cargo-fuzz
# when it is missing. Crashes land in fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
cd -- "$REPO/fuzz"
seconds=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
    printf '\n== %s (%ss)\n' "$t" "$seconds"
    extra=()
    [[ -f dicts/${t#writer_}.dict ]] && extra+=("-dict=dicts/${t#writer_}.dict")
    cargo fuzz run -s none "$t" -- -max_total_time="$seconds" "${extra[@]}" 2>&1 | grep -E '^(#[0-9]+.*DONE|Done|==[0-9]+==|SUMMARY|.*panicked)' || true
    [[ -z $(ls -A "artifacts/$t" 2>/dev/null) ]] || { echo "fuzz.sh: $t found a crash: fuzz/artifacts/$t" >&2; exit 1; }
done
