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
# Three fifths for the old generation: the young generation, code, buffers and the rest of the process take the rest.
heap=$((mib * 3 / 5))
if [ "$heap" -lt 64 ]; then heap=64; fi
exec /usr/local/bin/node --max-old-space-size="$heap" "$main" "$@"
