#!/usr/bin/env bash
# Side-by-side CPU benchmark: `stylelearn bench` and its PyTorch twin (benches/torch_twin.py) on
# the same VGG-19 weights, same step, same thread count, in one run; prints one markdown table.
# stylelearn is timed twice: as it runs (the network on src/fastvgg on the CPU) and with
# `--burn-only` (burn's conv2d and autodiff through the network).
#
# Usage: scripts/bench_vs_torch.sh [SIZES] [STEPS]      (defaults 256,512 and 5)
#   TORCH_PYTHON=/path/to/python   a python that can `import torch` (default: python3)
#   THREADS=2                      threads for both (RAYON_NUM_THREADS / torch.set_num_threads)
# Torch is needed only here; without it the script says so and exits 0 (nothing else needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-256,512}
STEPS=${2:-5}
THREADS=${THREADS:-2}
PY=${TORCH_PYTHON:-python3}
B=./target/release/stylelearn

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "no python with torch ($PY): set TORCH_PYTHON to one (pip install torch) to compare; skipped"
  exit 0
fi
cargo build --release --locked -q
$B setup -q >/dev/null 2>&1 || $B setup

rs_out=$(mktemp); py_out=$(mktemp); fv_out=$(mktemp)
trap 'rm -f "$rs_out" "$py_out" "$fv_out"' EXIT
RAYON_NUM_THREADS=$THREADS $B bench --burn-only --sizes "$SIZES" --steps "$STEPS" | tee /dev/stderr >"$rs_out"
RAYON_NUM_THREADS=$THREADS $B bench --sizes "$SIZES" --steps "$STEPS" | tee /dev/stderr >"$fv_out"
OMP_NUM_THREADS=$THREADS "$PY" benches/torch_twin.py --sizes "$SIZES" --steps "$STEPS" \
  --threads "$THREADS" >"$py_out"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
echo
echo "CPU: ${cpu:-unknown}, $THREADS threads; $(date -u '+%Y-%m-%d %H:%M UTC'); torch $("$PY" -c 'import torch; print(torch.__version__)')"
echo "step = forward to relu5_1 + Grams at relu{1..5}_1 + content at relu4_2 + TV + backward + Adam; median of $STEPS"
echo
echo "| size | stylelearn (burn) s/step | stylelearn (fastvgg) s/step | torch s/step | burn / torch | fastvgg / torch | peak RSS MiB burn / fastvgg / torch |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
# Rust rows look like `| 256² | 0.709 | 84.6 | 1234 |`; twin rows like `256 0.3210 987`.
while read -r size t_py rss_py; do
  row=$(grep -E "^\| ${size}² \|" "$rs_out" || true)
  t_rs=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  rss_rs=$(echo "$row" | awk -F'|' '{gsub(/ /,"",$5); print $5}')
  fv=$(grep -E "^\| ${size}² \|" "$fv_out" || true)
  t_fv=$(echo "$fv" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  rss_fv=$(echo "$fv" | awk -F'|' '{gsub(/ /,"",$5); print $5}')
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "?" }'; }
  echo "| ${size}² | ${t_rs:-?} | ${t_fv:-?} | ${t_py} | $(ratio "$t_rs" "$t_py") | $(ratio "$t_fv" "$t_py") | ${rss_rs:-?} / ${rss_fv:-?} / ${rss_py} |"
done <"$py_out"
