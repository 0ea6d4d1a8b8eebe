#!/bin/sh
# The image's entrypoint: runs the connector with Node's heap sized from the container's memory limit (cgroup v2
# memory.max, or v1 memory.limit_in_bytes), so that the garbage collector works well before the pod's limit instead of
# letting garbage grow towards a heap limit V8 sizes from the host's memory. Without a limit, or with NODE_OPTIONS
# that already set the heap, Node decides as usual.
set -eu
main=/airbyte/integration_code/dist/main.js
limit=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || echo max)
case "$limit" in
  '' | max | *[!0-9]*) exec /usr/local/bin/node "$main" "$@" ;;
esac
case "${NODE_OPTIONS:-}" in
  *max[-_]old[-_]space[-_]size*) exec /usr/local/bin/node "$main" "$@" ;;
esac
mib=$((limit / 1048576))
# cgroup v1 says "no limit" with a huge number.
if [ "$mib" -ge 1048576 ]; then exec /usr/local/bin/node "$main" "$@"; fi
# Half for the old generation; a young generation of up to 3 × 16 MB, so that a page's records (a few MB) die young
# instead of filling the old generation (V8 sizes it from the heap, to 1 MB semi-spaces in a small one); code,
# buffers and the rest of the process take the rest.
old=$((mib / 2))
if [ "$old" -lt 64 ]; then old=64; fi
semi=$((mib / 16))
if [ "$semi" -gt 16 ]; then semi=16; fi
if [ "$semi" -lt 1 ]; then semi=1; fi
case "${NODE_OPTIONS:-}" in
  *semi[-_]space*) exec /usr/local/bin/node --max-old-space-size="$old" "$main" "$@" ;;
esac
exec /usr/local/bin/node --max-old-space-size="$old" --max-semi-space-size="$semi" "$main" "$@"
