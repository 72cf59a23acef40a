#!/usr/bin/env bash
# The dependency policy (deny.toml): licenses, banned crates and duplicates, and where crates
# come from, checked by cargo-deny, which is built and installed when missing. Advisories are
# left out: their database is fetched from GitHub, which these machines cannot reach.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
if ! cargo deny --version 2> /dev/null | grep -q " $version"; then
  echo "installing cargo-deny $version" >&2
  cargo install --locked --quiet "cargo-deny@$version"
fi
# `--offline` keeps cargo-deny from fetching its advisory database; the crates of every target
# (even those only other systems build) must be here first for cargo's metadata.
cargo fetch --locked --quiet
cargo deny --offline check licenses bans sources
