#!/usr/bin/env bash
# Redraws the README's two plots: t4g-burst-depletion's egress per second (a second),
# and the Zipf sweep's hottest-over-coldest ratio (a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo run --release -q -- run t4g-burst-depletion --out "$tmp/run" --plots > /dev/null
cp "$tmp/run/plots/sustained-1gbps-net_out_bits_per_s.svg" docs/plots/t4g-burst-depletion-net-out.svg
cargo run --release -q -- sweep scenarios/sweeps/zipf-exponents.ron --out "$tmp/sweep" > /dev/null
cp "$tmp/sweep/plots/shards.load_ratio_measured.svg" docs/plots/zipf-exponents-load-ratio.svg
