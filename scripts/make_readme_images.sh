#!/usr/bin/env bash
# Regenerates the README's gallery and texture-synthesis images with the shipped binary.
# Usage: scripts/make_readme_images.sh   (from the repository root; takes ~15 minutes on 2 cores)
set -euo pipefail
B=./target/release/stylelearn
cargo build --release --locked
mkdir -p docs/gallery docs/textures
rm -rf demo-out && $B demo --out demo-out

# Gallery: one photo, two styles, and luminance-only transfer.
P=assets/demo/photo.png
$B transfer $P --style demo-out/learned_style.png --style-scale 0.667 -o docs/gallery/cartoon.png --size 192 --iters 150 -q
$B transfer $P --style tests/data/reference/style.png -o docs/gallery/fur.png --size 192 --iters 150 -q
$B transfer $P --style demo-out/learned_style.png --style-scale 0.667 --preserve-color -o docs/gallery/cartoon_preserve_color.png --size 192 --iters 150 -q
cp demo-out/learned_style.png docs/gallery/learned_style.png
cp $P docs/gallery/photo.png

# Texture synthesis from one reference with each statistic (same seed, size, steps), the
# images as optimised (--detail keep): the table compares what each statistic reaches.
SRC=assets/demo/dataset/chelsea.png
cp $SRC docs/textures/reference.png
echo "statistic,gram_error,swd" > docs/textures/table.csv
for loss in gram meanstd mmd-gauss swd; do
  $B learn $SRC --loss $loss -o docs/textures/$loss.png --size 96 --iters 200 --layers relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 --detail keep -q
  g=$($B compare docs/textures/$loss.png $SRC --size 0 --loss gram | tail -1 | cut -d, -f2)
  s=$($B compare docs/textures/$loss.png $SRC --size 0 --loss swd | tail -1 | cut -d, -f2)
  echo "$loss,$g,$s" >> docs/textures/table.csv
  rm -f docs/textures/$loss.curve.* docs/textures/$loss.profile.safetensors docs/textures/$loss.iter*.png docs/textures/$loss.html
done
rm -f docs/gallery/*.log.csv docs/gallery/*.html
cat docs/textures/table.csv
