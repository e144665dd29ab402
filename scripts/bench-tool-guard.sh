#!/usr/bin/env bash
# What the server-side tool guard costs per tool call: runs images/copilot-cli/tools/copilot-tool-guard
# N times (default 200) on an allowed `view` inside a session's folder and on a refused `bash`, and
# prints the mean wall time per call. The CLI runs the guard once before every tool call.
#   npm run bench:tool-guard [-- N]
set -euo pipefail
n="${1:-200}"
guard="$(cd "$(dirname "$0")/.." && pwd)/images/copilot-cli/tools/copilot-tool-guard"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/session-state/u1-bench/files"
export COPILOT_HOME="$home"
allow="{\"sessionId\":\"u1-bench\",\"timestamp\":1,\"cwd\":\"$home/session-state/u1-bench/files\",\"toolName\":\"view\",\"toolArgs\":{\"path\":\"notes.txt\"}}"
deny='{"sessionId":"u1-bench","timestamp":1,"cwd":"/","toolName":"bash","toolArgs":{"command":"id"}}'
run() {
    local input="$1" t0 t1
    t0=$(date +%s%N)
    for _ in $(seq "$n"); do printf '%s' "$input" | "$guard" >/dev/null; done
    t1=$(date +%s%N)
    awk -v ns="$((t1 - t0))" -v n="$n" 'BEGIN { printf "%.1f", ns / n / 1e6 }'
}
echo "tool guard, $n calls each (load average: $(cut -d' ' -f1 /proc/loadavg))"
echo "allowed view inside the session's folder: $(run "$allow") ms per call"
echo "refused bash:                             $(run "$deny") ms per call"
