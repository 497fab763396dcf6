#!/usr/bin/env bash
# Download tools/gpu_wheels.txt into .whl/ for a GPU machine without a package index (Python
# 3.12, x86-64 Linux), and check that the working tree plus wheels stays within 64 MiB.
#   bash tools/gpu_wheels.sh      # then carry .whl with the tree; tools/gpu_run.sh installs it
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
mkdir -p .whl
grep -v '^#' tools/gpu_wheels.txt | grep . | while read -r pin; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    -d .whl "$pin"
done
wheels=$(du -cb .whl/*.whl | tail -1 | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
echo "wheels: $((wheels / 1048576)) MiB, tracked files: $((tree / 1048576)) MiB (limit 64 MiB together)"
