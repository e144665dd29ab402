#!/usr/bin/env bash
# npm run bench:image — see scripts/bench-image.ts (needs root, buildah, podman, runc, debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
exec npx ts-node --transpile-only scripts/bench-image.ts "$@"
