#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, on the stable
# toolchain without a sanitizer (cargo fuzz -s none), installing cargo-fuzz
# when it is missing. Crashes land in fuzz/artifacts/<target>/.
# The working corpus is fuzz/corpus/<target> (not committed); committed seeds
# recorded from the test server (fuzz/corpus-seeds/<target>) and inputs that
# once found a bug (fuzz/regressions/<target>) are read as extra corpora.
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
    dirs=("corpus/$t")
    mkdir -p "corpus/$t"
    for d in "corpus-seeds/$t" "regressions/$t"; do [[ -d $d ]] && dirs+=("$d"); done
    cargo fuzz run -s none "$t" "${dirs[@]}" -- -max_total_time="$seconds" "${extra[@]}" 2>&1 | grep -E '^(#[0-9]+.*DONE|Done|==[0-9]+==|SUMMARY|.*panicked)' || true
    [[ -z $(ls -A "artifacts/$t" 2>/dev/null) ]] || { echo "fuzz.sh: $t found a crash: fuzz/artifacts/$t" >&2; exit 1; }
done
