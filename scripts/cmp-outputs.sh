#!/usr/bin/env bash
# Byte-identity of rnnlab's outputs across a refactor (issue 22).
#
#   scripts/cmp-outputs.sh record BINARY DIR    # run the reference commands with BINARY into DIR
#   scripts/cmp-outputs.sh check  BINARY REFDIR # run them again into a temporary directory and cmp
#                                               # every file against REFDIR
#
# The commands: a train (fixed seed, few steps, eval lengths, history probes), a diverging
# train, a train on a data
# file, a gradients report, an eval of the trained model, a small sweep with a tuned option and a
# compare of it. Their stdout and stderr are kept too (as cmd-NAME.stdout/.stderr).
#
# Compared byte for byte: every file, after masking only what legitimately changes between two
# runs of one binary or between two builds (see mask below):
#   - ISO timestamps (`2026-12-06T19:48:55Z`, in summaries and the reports' "Made by" line);
#   - the build's commit (`build 19c7e262c1df`, `git_commit`) and `wall_seconds` values
#     (summary.ron/.json, results.csv's last column, the reports' "wall time" row);
#   - in the commands' stdout/stderr, durations such as `0.0 s`;
#   - .rnnlab-lock (holds the pid of the last writer) is not compared.
# The binary is copied to one fixed path first, so the command line the reports quote is the same.
# Everything else (every number, table, plot SVG, CSV, config, model file) must be identical.
set -euo pipefail
mode=${1:?record or check}
src_bin=$(realpath "${2:?binary}")
bin=/tmp/cmp-outputs-bin/rnnlab
mkdir -p /tmp/cmp-outputs-bin && cp "$src_bin" "$bin"
dir=${3:?dir}

run_all() {
    local out=$1
    mkdir -p "$out"
    cd "$out"
    run() { local name=$1; shift; "$bin" "$@" >"cmd-$name.stdout" 2>"cmd-$name.stderr" || echo "exit $?" >>"cmd-$name.stdout"; }
    run train train --cell rnn --length 8 --hidden 16 --steps 150 --seed 3 --eval-every 25 \
        --probe-every 50 --history-every 30 --eval-lengths 12:16 --threads 1 --quiet --out train
    run train-lstm train --cell lstm --length 6 --hidden 12 --steps 80 --seed 1 --eval-every 20 \
        --threads 2 --quiet --out train-lstm
    run train-diverge train --cell rnn --activation relu --recurrent-scale 3 --optimizer sgd \
        --lr 1e6 --clip 0 --steps 50 --hidden 16 --length 8 --threads 1 --quiet --out train-diverge
    run data data generate --task tanaka --length 5 --count 120 --seed 4 --out data.ron
    run train-data train --data data.ron --cell gru --hidden 12 --steps 60 --seed 2 --threads 1 \
        --quiet --out train-data
    run gradients gradients --cell rnn --activation sigmoid --length 30 --hidden 16 --threads 1 \
        --out gradients
    run gradients-model gradients --model train --length 10 --threads 1 --out gradients-model
    run eval eval --model train --length 8,12,20 --count 64 --threads 1 --out eval
    run sweep sweep --cell rnn,lstm --length 4,8 --seeds 2 --steps 60 --hidden 12 --eval-every 20 \
        --tune lr=0.01,0.003 --jobs 2 --threads 1 --quiet --out sweep
    run compare compare sweep
    run compare-all compare sweep --all-values
}

mask() {
    # $1 a file; prints it with the legitimately varying fields masked
    local extra=()
    case $1 in
    *results.csv) extra=(-e 's/,[0-9.eE+-]+$/,WALL/') ;;
    *cmd-*) extra=(-e 's/[0-9]+(\.[0-9]+)? s\b/TIME s/g') ;;
    esac
    sed -E \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIMESTAMP/g' \
        -e 's/(build |git_commit[": ]*)[0-9a-f]{12}(-modified)?/\1COMMIT/g' \
        -e 's/(wall_seconds"?[:=] *)[0-9.eE+-]+/\1WALL/g' \
        -e 's/(wall time[^0-9]*)[0-9.]+ s/\1WALL s/g' \
        "${extra[@]}" "$1"
}

case $mode in
record)
    rm -rf "$dir"
    (run_all "$dir")
    echo "recorded $(find "$dir" -type f | wc -l) files in $dir"
    ;;
check)
    ref=$(realpath "$dir")
    new=$(mktemp -d /tmp/cmp-outputs.XXXXXX)
    (run_all "$new")
    fail=0
    while IFS= read -r f; do
        if [ ! -e "$new/$f" ]; then echo "missing in new: $f"; fail=1; continue; fi
        if ! cmp -s "$ref/$f" "$new/$f"; then
            if cmp -s <(mask "$ref/$f") <(mask "$new/$f"); then continue; fi
            echo "differs: $f"; fail=1
        fi
    done < <(cd "$ref" && find . -type f ! -name .rnnlab-lock | sort)
    while IFS= read -r f; do
        [ -e "$ref/$f" ] || { echo "new file: $f"; fail=1; }
    done < <(cd "$new" && find . -type f | sort)
    n=$(find "$ref" -type f | wc -l)
    if [ $fail = 0 ]; then echo "identical: $n files (new outputs in $new)"; rm -rf "$new"; else echo "outputs in $new"; exit 1; fi
    ;;
*) echo "usage: $0 record|check BINARY DIR" >&2; exit 2 ;;
esac
