#!/bin/sh
# Builds the tray container image (scripts/container/Containerfile) with podman, from a binary
# (default dist/tray; give a release binary such as dist/release/tray-linux-x64 to ship that).
# Usage: scripts/container/build-image.sh [BINARY] [TAG]
# The context is a rootfs: the binary at /usr/local/bin/tray, every shared library ldd names at
# its own path (so the dynamic loader finds it as on the build machine), /tmp (mode 1777) and /app.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-"$here/../../dist/tray"}
tag=${2:-localhost/tray:latest}
[ -x "$binary" ] || { echo "build-image: no executable at $binary; build it first (bun scripts/build.ts)" >&2; exit 2; }
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
mkdir -p "$root/usr/local/bin" "$root/tmp" "$root/app"
chmod 1777 "$root/tmp"
cp "$binary" "$root/usr/local/bin/tray"
# ldd lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)".
for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp "$here/Containerfile" "$context/Containerfile"
podman build --quiet --tag "$tag" "$context"
