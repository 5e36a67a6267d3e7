#!/usr/bin/env bash
# Issue 15's real-GPU proof in one call (about 5 minutes on an H200): the training check
# (train-check.sh), the inference check (infer-check.sh) and the fix-safety check (safety-check.sh).
# Usage: bench/advice-gpu-check.sh OUTDIR   (needs dist/ built, python3 with PyTorch + CUDA)
set -u
OUT=${1:?output folder}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
bash bench/train-check.sh "$OUT" 3 > "$OUT/train-check.txt" 2>&1
bash bench/infer-check.sh "$OUT" 20000 > "$OUT/infer-check.txt" 2>&1
bash bench/safety-check.sh "$OUT" > "$OUT/safety-check.txt" 2>&1
cat "$OUT/gpu.txt" "$OUT/compare.txt" "$OUT/infer-compare.txt" "$OUT/safety.txt"
