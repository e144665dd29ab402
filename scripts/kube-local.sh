#!/usr/bin/env bash
# A real, local Kubernetes control plane for the engine tests (issue 12): built from the Go module
# proxy with the ordinary `go` client, started on loopback, stopped with everything removed.
#
#   $COPILOT_FLEET_ENGINE_DIR (default ~/.cache/copilot-fleet/engine, as scripts/pulumi-engine.sh)
#     kube/bin/   kube-local (apiserver, controller-manager, scheduler, kubectl and our simulated
#                 kubelet in one binary, scripts/engine/kube-local), kubectl (a link to it) and etcd
#     kube/src/   the generated wrapper module and the build stamp
#     go/mod, go/cache   the Go caches, shared with scripts/pulumi-engine.sh
#
# What is built (every module from the Go module proxy):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                 k8s.io/kubernetes v1.34.4, through a wrapper module: its go.mod replaces every
#                 k8s.io/* staging module with ./staging/src/..., so the wrapper pins each of them
#                 to the matching v0.34.4 release. 1.34 is the oldest minor the proxy serves and
#                 the nearest to the client-go v0.33.3 that the kubernetes plugin (v4.25.0 code)
#                 is built with: one minor apart, inside Kubernetes' supported client skew.
#   etcd          go.etcd.io/etcd/server/v3 v3.6.4, the version k8s.io/kubernetes v1.34.4 pins
#   kubelet       not the real one (it needs a container runtime): ours, on client-go v0.34.4, that
#                 registers a Node and reports every pod bound to it Running and Ready
#
# Usage: scripts/kube-local.sh build [--force]
#        scripts/kube-local.sh start [--dir DIR] [--namespace NS]...
#        scripts/kube-local.sh stop  [--dir DIR]
#   build   builds the binaries unless their stamp matches (a warm run takes seconds)
#   start   builds if needed, then starts etcd, the apiserver (a static token, self-signed serving
#           certificate, random free loopback ports), the controller-manager, the scheduler and
#           the kubelet; waits for /readyz and a Ready node; creates each --namespace with Pod
#           Security `restricted` enforced; writes DIR/kubeconfig and DIR/env (KUBECONFIG, and
#           PATH with kube/bin first for its kubectl).
#           DIR defaults to $COPILOT_FLEET_KUBE_DIR or /tmp/copilot-fleet-kube.
#   stop    stops every process that start started (by the pids it recorded) and removes DIR
# Works as root and under sudo (builds into the invoking user's cache and hands it back).
set -Eeuo pipefail

K8S_VERSION=v1.34.4      # k8s.io/kubernetes; staging modules at v0.34.4
STAGING_VERSION=v0.34.4
ETCD_VERSION=v3.6.4      # go.etcd.io/etcd/server/v3, as k8s.io/kubernetes v1.34.4 pins it

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cmd="${1:-}"
[ $# -gt 0 ] && shift
force="${COPILOT_FLEET_ENGINE_FORCE:-0}"
state_dir="${COPILOT_FLEET_KUBE_DIR:-/tmp/copilot-fleet-kube}"
namespaces=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --dir) state_dir="${2:?--dir needs a folder}"; shift ;;
    --namespace) namespaces+=("${2:?--namespace needs a name}"); shift ;;
    -h|--help) cmd=help ;;
    *) echo "kube-local: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$cmd" in
  -h|--help|help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  build|start|stop) ;;
  *) echo "kube-local: expected build, start or stop (try --help)" >&2; exit 2 ;;
esac

step="$cmd"
trap 'echo "kube-local: FAILED at step \"$step\" (exit $?); see the output above" >&2' ERR
say() { printf '==> %s\n' "$*"; }
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

owner=""
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  owner="${SUDO_UID}:${SUDO_GID}"
  default_dir="$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cache/copilot-fleet/engine"
else
  default_dir="${HOME:?HOME is not set}/.cache/copilot-fleet/engine"
fi
ENGINE_DIR="${COPILOT_FLEET_ENGINE_DIR:-$default_dir}"
KUBE="$ENGINE_DIR/kube"
BIN="$KUBE/bin"

# --- build -----------------------------------------------------------------------------------
build() {
  step="build"
  local srcdir="$here/engine/kube-local" key w t0
  # Go >= 1.24: the one on PATH, /usr/local/go, or the toolchain scripts/pulumi-engine.sh fetched
  # from the module proxy into the engine folder (Debian bookworm's golang-go is 1.19).
  local cand
  GO=""
  for cand in "$(command -v go || true)" /usr/local/go/bin/go "$ENGINE_DIR"/go/toolchain/go*/bin/go; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    case "$("$cand" env GOVERSION 2>/dev/null)" in go1.2[4-9]*|go1.[3-9]*) GO="$cand"; break ;; esac
  done
  [ -n "$GO" ] || { echo "kube-local: no go >= 1.24 (on PATH, /usr/local/go or $ENGINE_DIR/go/toolchain); bash scripts/pulumi-engine.sh fetches one" >&2; exit 1; }
  key="kube-local r2 $K8S_VERSION etcd $ETCD_VERSION $(find "$srcdir" -type f -name '*.go' | sort | xargs cat | sha256sum | cut -c1-16) $("$GO" env GOVERSION)"
  if [ "$force" != 1 ] && [ -x "$BIN/kube-local" ] && [ -x "$BIN/etcd" ] && [ -L "$BIN/kubectl" ] \
     && [ "$(cat "$KUBE/src/kube-local.stamp" 2>/dev/null)" = "$key" ]; then
    say "build: kube-local ($K8S_VERSION) and etcd ($ETCD_VERSION) already built in $BIN"
    return 0
  fi
  mkdir -p "$BIN" "$KUBE/src" "$ENGINE_DIR/go/mod" "$ENGINE_DIR/go/cache"
  export GOMODCACHE="$ENGINE_DIR/go/mod" GOCACHE="$ENGINE_DIR/go/cache"
  export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
  t0=$(date +%s); w="$KUBE/src/kube-local"; rm -rf "$w"; mkdir -p "$w/etcd"; cd "$w"
  cp "$srcdir"/*.go .; cp "$srcdir/etcd/main.go" etcd/
  say "build: wrapper module for k8s.io/kubernetes@$K8S_VERSION in $w"
  local json kmod
  json="$("$GO" mod download -json "k8s.io/kubernetes@$K8S_VERSION")" \
    || { echo "kube-local: go mod download k8s.io/kubernetes@$K8S_VERSION failed:" >&2; echo "$json" >&2; false; }
  kmod="$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' <<<"$json")"
  {
    printf 'module copilot-fleet.local/engine/kube-local\n\ngo %s\n\n' "$(sed -n 's/^go //p' "$kmod")"
    printf 'require (\n\tk8s.io/kubernetes %s\n\tgo.etcd.io/etcd/server/v3 %s\n)\n\n' "$K8S_VERSION" "$ETCD_VERSION"
    # Every staging module k8s.io/kubernetes replaces with a local folder, at its release.
    printf '// k8s.io/kubernetes replaces these with ./staging/src/...: pin their %s releases.\nreplace (\n' "$STAGING_VERSION"
    sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$kmod"
    printf ')\n'
  } > go.mod
  say "build: go mod tidy (downloads the module graph)"
  "$GO" mod tidy
  say "build: go build kube-local and etcd (cold: tens of minutes on 2 shared cores)"
  # The version the binaries report (the API server's /version, which clients such as the
  # kubernetes plugin read); the release build sets the same variables.
  local v="${K8S_VERSION#v}" vflags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    vflags="$vflags -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=${v%%.*} -X $pkg.gitMinor=$(cut -d. -f2 <<<"$v")"
    vflags="$vflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  nice -n 10 "$GO" build -trimpath -ldflags "-s -w$vflags" -o "$BIN/kube-local.new" .
  nice -n 10 "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/etcd.new" ./etcd
  mv "$BIN/kube-local.new" "$BIN/kube-local"; mv "$BIN/etcd.new" "$BIN/etcd"
  ln -sfn kube-local "$BIN/kubectl"
  printf '%s' "$key" > "$KUBE/src/kube-local.stamp"
  say "build: built in $(elapsed "$t0")"
  [ -z "$owner" ] || chown -R "$owner" "$KUBE"
}

if [ "$cmd" = build ]; then build; exit 0; fi

# --- stop ------------------------------------------------------------------------------------
stop() {
  step="stop"
  local f pid name
  if [ ! -d "$state_dir" ]; then say "stop: nothing at $state_dir"; return 0; fi
  # Reverse start order: the kubelet and controllers first, etcd last.
  for name in kubelet scheduler controller-manager apiserver etcd; do
    f="$state_dir/pids/$name.pid"
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  rm -rf "$state_dir"
  say "stop: stopped and removed $state_dir"
}
if [ "$cmd" = stop ]; then stop; exit 0; fi

# --- start -----------------------------------------------------------------------------------
build
step="start"
for tool in openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "kube-local: start needs $tool on PATH" >&2; exit 1; }
done
if [ -d "$state_dir/pids" ] && ls "$state_dir"/pids/*.pid >/dev/null 2>&1; then
  echo "kube-local: $state_dir holds a running control plane (pids/); run: $0 stop --dir $state_dir" >&2
  exit 1
fi
rm -rf "$state_dir"
mkdir -p "$state_dir"/{pids,logs,pki,etcd}
chmod 700 "$state_dir" "$state_dir/etcd"
started=0
# A failed start leaves nothing running.
cleanup_on_fail() { [ "$started" = 1 ] || stop >/dev/null 2>&1 || true; }
trap 'echo "kube-local: FAILED at step \"$step\" (exit $?); logs were in $state_dir/logs (removed); last lines:" >&2; tail -n 15 "$state_dir"/logs/*.log >&2 2>/dev/null || true; cleanup_on_fail' ERR

# Free loopback ports, chosen by the kernel (bound, read, released just before use).
read -r p_etcd p_peer p_api < <(python3 -c '
import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1",0))
print(*[s.getsockname()[1] for s in ss])
for s in ss: s.close()')

token="$(openssl rand -hex 32)"
printf '%s,copilot-fleet-admin,copilot-fleet-admin,system:masters\n' "$token" > "$state_dir/pki/tokens.csv"
openssl genrsa -out "$state_dir/pki/service-account.key" 2048 2>/dev/null
chmod 600 "$state_dir/pki/"*

# launch NAME CMD...: in its own session (survives this script), output to logs/NAME.log.
launch() {
  local name="$1"; shift
  setsid nohup "$@" > "$state_dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state_dir/pids/$name.pid"
}
# wait_for WHAT SECONDS CMD...: until CMD succeeds; fails naming WHAT, with its process's log.
wait_for() {
  local what="$1" secs="$2" name="$3"; shift 3
  local i
  for i in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$state_dir/pids/$name.pid")" 2>/dev/null; then
      echo "kube-local: $name exited while waiting for $what" >&2; return 1
    fi
    sleep 0.25
  done
  echo "kube-local: $what not reached in ${secs}s" >&2
  return 1
}

t0=$(date +%s)
say "start: etcd on 127.0.0.1:$p_etcd"
launch etcd "$BIN/etcd" --name kube-local --data-dir "$state_dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$p_etcd" --advertise-client-urls "http://127.0.0.1:$p_etcd" \
  --listen-peer-urls "http://127.0.0.1:$p_peer" --initial-advertise-peer-urls "http://127.0.0.1:$p_peer" \
  --initial-cluster "kube-local=http://127.0.0.1:$p_peer" \
  --unsafe-no-fsync --log-level warn
wait_for "etcd /health" 60 etcd curl -sf "http://127.0.0.1:$p_etcd/health"

say "start: kube-apiserver on https://127.0.0.1:$p_api"
launch apiserver "$BIN/kube-local" apiserver \
  --etcd-servers "http://127.0.0.1:$p_etcd" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$p_api" \
  --cert-dir "$state_dir/pki" --token-auth-file "$state_dir/pki/tokens.csv" --anonymous-auth=false \
  --authorization-mode RBAC --allow-privileged=false \
  --service-cluster-ip-range 10.96.0.0/16 \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$state_dir/pki/service-account.key" \
  --service-account-signing-key-file "$state_dir/pki/service-account.key" \
  --profiling=false
api="https://127.0.0.1:$p_api"
wait_for "kube-apiserver /readyz" 180 apiserver curl -sfk -H "Authorization: Bearer $token" "$api/readyz"

# The serving certificate is self-signed for 127.0.0.1/localhost; the file holds it and its CA.
"$BIN/kubectl" config --kubeconfig "$state_dir/kubeconfig" set-cluster kube-local --server "$api" \
  --certificate-authority "$state_dir/pki/apiserver.crt" --embed-certs=true >/dev/null
"$BIN/kubectl" config --kubeconfig "$state_dir/kubeconfig" set-credentials kube-local --token "$token" >/dev/null
"$BIN/kubectl" config --kubeconfig "$state_dir/kubeconfig" set-context kube-local --cluster kube-local --user kube-local >/dev/null
"$BIN/kubectl" config --kubeconfig "$state_dir/kubeconfig" use-context kube-local >/dev/null
chmod 600 "$state_dir/kubeconfig"
export KUBECONFIG="$state_dir/kubeconfig"
"$BIN/kubectl" version >/dev/null 2>&1

say "start: kube-controller-manager, kube-scheduler, the simulated kubelet"
launch controller-manager "$BIN/kube-local" controller-manager --kubeconfig "$KUBECONFIG" \
  --secure-port 0 --leader-elect=false --use-service-account-credentials=false \
  --service-account-private-key-file "$state_dir/pki/service-account.key" \
  --root-ca-file "$state_dir/pki/apiserver.crt" --cluster-name kube-local
launch scheduler "$BIN/kube-local" scheduler --kubeconfig "$KUBECONFIG" --secure-port 0 --leader-elect=false
launch kubelet "$BIN/kube-local" kubelet --kubeconfig "$KUBECONFIG" --node-name kube-local
wait_for "a Ready node" 120 kubelet "$BIN/kubectl" wait --for=condition=Ready node/kube-local --timeout=2s
wait_for "the default ServiceAccount" 120 controller-manager "$BIN/kubectl" get serviceaccount default -n default

for ns in ${namespaces[@]+"${namespaces[@]}"}; do
  say "start: namespace $ns (Pod Security restricted: enforce, audit, warn)"
  "$BIN/kubectl" create namespace "$ns" >/dev/null
  "$BIN/kubectl" label namespace "$ns" pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/audit=restricted pod-security.kubernetes.io/warn=restricted >/dev/null
  wait_for "ServiceAccount default in $ns" 60 controller-manager "$BIN/kubectl" get serviceaccount default -n "$ns"
done

printf 'export KUBECONFIG=%q PATH=%q:"$PATH"\n' "$state_dir/kubeconfig" "$BIN" > "$state_dir/env"
[ -z "$owner" ] || chown -R "$owner" "$state_dir"
started=1
say "start: up in $(elapsed "$t0"): source $state_dir/env (KUBECONFIG); stop with: $0 stop --dir $state_dir"
