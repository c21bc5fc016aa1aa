#!/usr/bin/env bash
# The weight of a default build: for a tiny program that makes one retrying
# call with persevere and with each peer, the packages `cargo tree -e normal`
# lists and the time of one clean `cargo build --release`, in fresh temp dirs.
#
#   bash benches/build_weight.sh
#
# Each program also depends on tokio with the `rt` and `time` features, which
# every one of them needs to run; the times include tokio's build. Run it on a
# quiet machine: the times are wall-clock, one run each.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tokio='tokio = { version = "1.47", default-features = false, features = ["rt", "time"] }'

program() { # name, dependency line, body of main's async block
    mkdir -p "$work/$1/src"
    cat >"$work/$1/Cargo.toml" <<TOML
[package]
name = "weight-$1"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$tokio
$2

[workspace]
TOML
    cat >"$work/$1/src/main.rs" <<RS
#[allow(unused_imports)]
use std::time::Duration;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let n = rt.block_on(async { $3 });
    println!("{n:?}");
}
RS
}

program persevere "persevere = { path = \"$root\" }" \
    'persevere::retry(|| async { Ok::<u32, std::io::Error>(42) }).await.map_err(|e| e.to_string())'
program tokio-retry2 'tokio-retry2 = "0.9"' \
    'tokio_retry2::Retry::spawn(tokio_retry2::strategy::FixedInterval::new(Duration::ZERO).take(3), || async { Ok::<u32, tokio_retry2::RetryError<()>>(42) }).await'
program backon 'backon = { version = "1.6", default-features = false, features = ["tokio-sleep"] }' \
    'use backon::Retryable; (|| async { Ok::<u32, ()>(42) }).retry(backon::ConstantBuilder::new().with_delay(Duration::ZERO)).await'
program backoff 'backoff = { version = "0.4", default-features = false, features = ["tokio"] }' \
    'backoff::future::retry(backoff::backoff::Constant::new(Duration::ZERO), || async { Ok::<u32, backoff::Error<()>>(42) }).await'

printf '| crate | packages (`cargo tree -e normal`, the program and tokio included) | of which proc-macro stack | clean `cargo build --release` |\n|---|---:|---:|---:|\n'
for name in persevere tokio-retry2 backon backoff; do
    dir="$work/$name"
    (cd "$dir" && cargo fetch -q)
    tree="$(cd "$dir" && cargo tree -e normal --prefix none | sed 's/ (\*)$//' | sort -u)"
    packages="$(grep -vc "^weight-$name " <<<"$tree" || true)"
    macros="$(grep -Ec '^(proc-macro2|quote|syn|unicode-ident|thiserror-impl|pin-project-internal|async-trait) ' <<<"$tree" || true)"
    start="$(date +%s.%N)"
    (cd "$dir" && cargo build --release -q)
    end="$(date +%s.%N)"
    printf '| %s | %s | %s | %.1f s |\n' "$name" "$packages" "$macros" "$(echo "$end - $start" | bc)"
    if [[ "${VERBOSE:-0}" == 1 ]]; then printf '%s\n' "$tree" | sed 's/^/    /' >&2; fi
done
