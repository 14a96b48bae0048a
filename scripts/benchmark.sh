#!/usr/bin/env bash
# The closed-loop benchmark (issue 11): does stylelearn make new photos look like the filter?
#
# For each filter of scripts/make_benchmark.py: learn the style image (and profile) from the
# filter's 12 training outputs, then `stylelearn evaluate` the 4 held-out photos by every route
# (learned image, profile with the style's colours, profile keeping the photo's colours, profile
# with adapted colours (transfer's default with a profile), the same with the detail kept as
# optimised, the adapted photo alone, the adapted photo with the dataset's fine detail and
# posterising but no optimisation, the naive baseline: ONE training output as the style, and
# "unfiltered": the photo as it is, doing nothing) against the filter's outputs of those photos,
# and collect one markdown table: filter × route × judge (colour, texture), with each mean's
# ratio to the baseline's, then the closest learned route per filter with its transfer command.
#
# Usage (from anywhere; paths are relative to the repository root):
#   python3 -m pip install -r scripts/requirements-bench.txt
#   scripts/benchmark.sh
#   SIZE=128 LEARN_ITERS=100 TRANSFER_ITERS=60 FILTERS=cartoon,grade scripts/benchmark.sh
#   PHOTO_SIDE=512 SIZE=512 scripts/benchmark.sh      # the benchmark built and run at 512 px
#
# Settings (environment variables):
#   SIZE=256            learned image side and every transfer's long side
#   PHOTO_SIDE=256      long side of the benchmark's photos (make_benchmark.py --long-side;
#                       the filters work in pixels, so another size is a related benchmark)
#   LEARN_ITERS=500     iterations per stage of `stylelearn learn` (its default: three stages,
#                       64, 128 and 256 px; fewer leave the learned image under-converged: see
#                       README, "the learned-image route")
#   TRANSFER_ITERS=30   iterations of each transfer in `stylelearn evaluate` (its default)
#   FILTERS=cartoon,painterly,grade,pencil,vintage,crossprocess
#   PYTHON=python3      a python with the packages of scripts/requirements-bench.txt
#   DATA=bench-data     where the benchmark is built
#   OUT=bench-out       learned styles, evaluations (OUT/F/eval/index.html) and OUT/table.md
#   BIN=target/release/stylelearn   (built with `cargo build --release` if missing)
# The defaults take hours on a 2-core CPU (mostly `learn`: about 12 minutes per filter).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-256}
PHOTO_SIDE=${PHOTO_SIDE:-256}
LEARN_ITERS=${LEARN_ITERS:-500}
TRANSFER_ITERS=${TRANSFER_ITERS:-30}
FILTERS=${FILTERS:-cartoon,painterly,grade,pencil,vintage,crossprocess}
PYTHON=${PYTHON:-python3}
DATA=${DATA:-bench-data}
OUT=${OUT:-bench-out}
BIN=${BIN:-target/release/stylelearn}

if ! "$PYTHON" -c 'import numpy, scipy, skimage, sklearn, PIL' 2>/dev/null; then
  echo "$PYTHON lacks the benchmark's packages: $PYTHON -m pip install -r scripts/requirements-bench.txt" >&2
  echo "(or PYTHON=/path/to/venv/bin/python $0)" >&2
  exit 1
fi
[ -x "$BIN" ] || cargo build --release
"$BIN" setup -q >/dev/null

"$PYTHON" scripts/make_benchmark.py "$DATA" --filters "$FILTERS" --long-side "$PHOTO_SIDE"

table="$OUT/table.md"
rows=$(mktemp)
closest=$(mktemp)
trap 'rm -f "$rows" "$closest"' EXIT
IFS=',' read -r -a filters <<<"$FILTERS"
for f in "${filters[@]}"; do
  echo "== $f: learn ($SIZE px, $LEARN_ITERS iterations per stage)" >&2
  "$BIN" learn "$DATA/$f/train" -o "$OUT/$f/style.png" --size "$SIZE" --iters "$LEARN_ITERS" -q
  # The baseline's style: the first training output by name (the same choice for every filter).
  baseline=$(find "$DATA/$f/train" -maxdepth 1 -name '*.png' | LC_ALL=C sort | head -n 1)
  echo "== $f: evaluate ($SIZE px, $TRANSFER_ITERS iterations per transfer; baseline $(basename "$baseline"))" >&2
  "$BIN" evaluate "$DATA/$f/heldout" \
    --style-image "$OUT/$f/style.png" \
    --style-profile "$OUT/$f/style.profile.safetensors" \
    --baseline "$baseline" \
    --route unfiltered="$DATA/$f/heldout/photos" \
    --size "$SIZE" --iters "$TRANSFER_ITERS" -q -o "$OUT/$f/eval" >"$OUT/$f/eval.txt"
  # evaluate ends by naming the closest learned route(s), each followed by its transfer command
  awk -v f="$f" '/^closest / { said = $0; next } said != "" && /^  / { sub(/^ +/, ""); printf "- %s: %s: `%s`\n", f, said, $0; said = "" }' \
    "$OUT/$f/eval.txt" >>"$closest"
  # means.csv: route,colour,texture,colour_ratio,texture_ratio
  awk -F, -v f="$f" 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", f, $1, $2, $4, $3, $5 }' \
    "$OUT/$f/eval/means.csv" >>"$rows"
done

{
  echo "Settings: PHOTO_SIDE=$PHOTO_SIDE SIZE=$SIZE LEARN_ITERS=$LEARN_ITERS TRANSFER_ITERS=$TRANSFER_ITERS; 4 held-out photos per filter;"
  echo "distances from the filter's output (lower is closer), ratio < 1: closer than the one-image baseline."
  echo
  echo "| filter | route | colour (ΔE) | colour / baseline | texture | texture / baseline |"
  echo "|---|---|---:|---:|---:|---:|"
  cat "$rows"
  echo
  echo "The closest learned routes, as \`stylelearn evaluate\` names them (PHOTO, OUT: yours):"
  echo
  cat "$closest"
} >"$table"
cat "$table"
echo "wrote $table; pages: $OUT/<filter>/eval/index.html" >&2
