#!/usr/bin/env bash
# Builds the Pulumi engine from source with the ordinary `go` client, for machines where no
# `pulumi` is on PATH and release downloads are impossible (only the package registries are
# reached). Installs into a cache folder outside the repository:
#
#   $COPILOT_FLEET_ENGINE_DIR (default ~/.cache/copilot-fleet/engine)
#     bin/        pulumi, pulumi-language-nodejs, pulumi-language-yaml  (on PATH via scripts/pulumi-env.sh)
#     plugins/    pulumi-resource-<name> builds, one folder per plugin
#     home/       PULUMI_HOME: installed plugins (home/plugins), and `pulumi login` state
#     go/mod      GOMODCACHE, go/cache GOCACHE: kept here so that the whole engine is one folder
#                 to delete (`chmod -R u+w` first: Go makes module files read-only), and so that
#                 a build under sudo leaves nothing root-owned in the user's own Go caches
#     src/        generated wrapper modules and writable copies of plugin modules
#
# What is built, and from what (every module comes from the Go module proxy):
#   pulumi                    github.com/pulumi/pulumi/pkg/v3 v3.248.0 (= npm @pulumi/pulumi),
#                             through a wrapper module: pkg's go.mod replaces sdk/v3 => ../sdk, so
#                             `go install ...@v3.248.0` refuses it
#   pulumi-language-nodejs    scripts/engine/pulumi-language-nodejs (a minimal host of our own on
#                             sdk/v3 v3.248.0; Pulumi's host module is not served by the proxy)
#   pulumi-language-yaml      github.com/pulumi/pulumi-yaml v1.25.0 (the newest version served), at
#                             its own pins (pkg/v3 v3.206.0); runs Pulumi YAML programs
#   kubernetes plugin         github.com/pulumi/pulumi-kubernetes/provider/v4 at the one version
#                             the proxy serves, the v4.25.0 release commit; installed as 4.34.2
#   random plugin             scripts/engine/pulumi-resource-random: the Terraform random provider
#                             bridged by pulumi-terraform-bridge (pulumi-random's provider module is
#                             not served); installed as 4.21.2
#   docker plugin             scripts/engine/pulumi-resource-docker: kreuzwerker's Terraform docker
#                             provider, bridged (pulumi-docker's provider module is not served);
#                             installed as 5.2.0. Lacks docker.Image (native code in pulumi-docker)
#
# Usage: scripts/pulumi-engine.sh [--force] [--only STEP[,STEP...]]
#   STEP: cli, langhost, yaml, kubernetes, random, docker, plugins (the `pulumi plugin install` step)
#   --force (or COPILOT_FLEET_ENGINE_FORCE=1): build even if a suitable pulumi is on PATH, and
#   rebuild the selected steps even if their stamps match.
# Then: source scripts/pulumi-env.sh
set -Eeuo pipefail

PULUMI_VERSION=3.248.0           # npm @pulumi/pulumi in package.json
KUBERNETES_NPM_VERSION=4.34.2    # npm @pulumi/kubernetes
KUBERNETES_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199  # tag v4.25.0; the only one served
KUBERNETES_CODE_VERSION=4.25.0
KUBERNETES_SDK_VERSION=v4.25.0   # provider's go.mod replaces sdk/v4 => ../sdk; same release
PULUMI_YAML_VERSION=v1.25.0      # github.com/pulumi/pulumi-yaml: v1.11.1 and v1.25.0 are all the proxy serves
RANDOM_NPM_VERSION=4.21.2        # npm @pulumi/random
# For random and docker: the bridge, Terraform provider and SDK fork pinned by pulumi-random v4.21.1 (its latest tag in
# the sources we could read); all three are served.
BRIDGE_VERSION=v3.135.0
TF_RANDOM_VERSION=v1.3.2-0.20260513075824-f8d869dc98d9
TF_PLUGIN_SDK_FORK=v2.0.0-20260318212141-5525259d096b
BRIDGED_PULUMI_VERSION=v3.253.0
DOCKER_NPM_VERSION=5.2.0         # npm @pulumi/docker
# kreuzwerker/terraform-provider-docker (its go.mod says github.com/terraform-providers/...): the
# only version served; pulumi-docker v5.1.0 pins upstream commit 5074970c, which is not.
TF_DOCKER_VERSION=v0.0.0-20260916201441-96d331c98ff4

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
force="${COPILOT_FLEET_ENGINE_FORCE:-0}"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --only) only="${2:?--only needs a comma-separated list}"; shift ;;
    -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "pulumi-engine: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
wants() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
for s in ${only//,/ }; do
  case "$s" in cli|langhost|yaml|kubernetes|random|docker|plugins) ;;
    *) echo "pulumi-engine: unknown step '$s' for --only (cli, langhost, yaml, kubernetes, random, docker, plugins)" >&2; exit 2 ;;
  esac
done

step="setup"
trap 'echo "pulumi-engine: FAILED at step \"$step\" (exit $?); see the output above" >&2' ERR
say() { printf '==> %s\n' "$*"; }
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# Under sudo, build into the invoking user's cache (not root's) and hand it back at the end.
owner=""
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  owner="${SUDO_UID}:${SUDO_GID}"
  user_home="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
  default_dir="${user_home}/.cache/copilot-fleet/engine"
else
  default_dir="${HOME:?HOME is not set}/.cache/copilot-fleet/engine"
fi
ENGINE_DIR="${COPILOT_FLEET_ENGINE_DIR:-$default_dir}"
BIN="$ENGINE_DIR/bin"

# A suitable pulumi already on PATH (not ours): nothing to do.
if [ "$force" != 1 ]; then
  existing="$(command -v pulumi || true)"
  if [ -n "$existing" ] && [ "$(dirname "$existing")" != "$BIN" ]; then
    v="$("$existing" version 2>/dev/null | sed 's/^v//' || true)"
    if [ -n "$v" ] && [ "$(printf '%s\n%s\n' "$PULUMI_VERSION" "$v" | sort -V | head -1)" = "$PULUMI_VERSION" ] \
       && [ "${v%%.*}" = 3 ]; then
      echo "pulumi-engine: $existing is v$v (>= $PULUMI_VERSION): nothing to build (--force builds anyway)"
      exit 0
    fi
    echo "pulumi-engine: $existing is '${v:-unknown}', not a v3 >= $PULUMI_VERSION: building our own"
  fi
fi

GO="$(command -v go || true)"
[ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
[ -n "$GO" ] || { echo "pulumi-engine: no go on PATH (sudo's secure_path may hide it; try sudo env PATH=\"\$PATH\" ...)" >&2; exit 1; }
case "$("$GO" env GOVERSION)" in
  go1.2[5-9]*|go1.[3-9]*) ;;
  *) echo "pulumi-engine: $("$GO" env GOVERSION) is too old; pkg/v3 v$PULUMI_VERSION needs go >= 1.25" >&2; exit 1 ;;
esac

mkdir -p "$BIN" "$ENGINE_DIR/plugins" "$ENGINE_DIR/home" "$ENGINE_DIR/src" "$ENGINE_DIR/go/mod" "$ENGINE_DIR/go/cache"
export GOMODCACHE="$ENGINE_DIR/go/mod" GOCACHE="$ENGINE_DIR/go/cache"
# No "direct" fallback: only the proxy is reachable, so fail at once instead of trying git.
export GOPROXY="${GOPROXY_OVERRIDE:-https://proxy.golang.org}" GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0
export PULUMI_HOME="$ENGINE_DIR/home" PULUMI_SKIP_UPDATE_CHECK=true
say "engine dir $ENGINE_DIR ($("$GO" env GOVERSION), GOPROXY=$GOPROXY)"

gobuild() { nice -n 10 "$GO" build -trimpath "$@"; }

# stamp_ok NAME KEY BINARY: the binary exists and was built from the same recipe.
stamp_ok() { [ "$force" != 1 ] && [ -x "$3" ] && [ "$(cat "$ENGINE_DIR/src/$1.stamp" 2>/dev/null)" = "$2" ]; }
stamp_write() { printf '%s' "$2" > "$ENGINE_DIR/src/$1.stamp"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
# mod_field MODULE@VERSION FIELD: download a module and print a field (Dir, GoMod) of `go mod download -json`.
mod_field() {
  local json
  json="$("$GO" mod download -json "$1")" || { echo "pulumi-engine: go mod download $1 failed:" >&2; echo "$json" >&2; return 1; }
  sed -n "s/.*\"$2\": \"\(.*\)\",*/\1/p" <<<"$json"
}

# --- 1. the CLI ------------------------------------------------------------------------------
if wants cli; then
  step="cli"
  key="pulumi $PULUMI_VERSION $("$GO" env GOVERSION) r1"
  if stamp_ok cli "$key" "$BIN/pulumi"; then
    say "cli: pulumi v$PULUMI_VERSION already built ($BIN/pulumi)"
  else
    t0=$(date +%s); w="$ENGINE_DIR/src/pulumi-cli"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    say "cli: wrapper module for github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION in $w"
    pkgmod="$(mod_field "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" GoMod)"
    {
      printf 'module copilot-fleet.local/engine/pulumi-cli\n\ngo %s\n\n' "$(sed -n 's/^go //p' "$pkgmod")"
      printf 'require (\n\tgithub.com/pulumi/pulumi/pkg/v3 v%s\n\tgithub.com/pulumi/pulumi/sdk/v3 v%s\n)\n\n' \
        "$PULUMI_VERSION" "$PULUMI_VERSION"
      # pkg's own replaces, less the local ones (=> ../sdk): today only the clipboard fork.
      awk '/^replace \(/{b=1;next} b&&/^\)/{b=0;next} b{print "replace " $0;next} /^replace /{print}' "$pkgmod" \
        | grep -v '=> *\.' || true
    } > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
    say "cli: go mod tidy (downloads the module graph)"
    "$GO" mod tidy
    say "cli: go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (cold: 9-21 min on 2 shared cores)"
    gobuild -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      -o "$BIN/pulumi.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    mv "$BIN/pulumi.new" "$BIN/pulumi"
    stamp_write cli "$key"
    say "cli: built in $(elapsed "$t0")"
  fi
  got="$("$BIN/pulumi" version)"
  [ "$got" = "v$PULUMI_VERSION" ] || { echo "pulumi-engine: $BIN/pulumi reports $got, expected v$PULUMI_VERSION" >&2; false; }
fi

# --- 2. the Node.js language host ------------------------------------------------------------
if wants langhost; then
  step="langhost"
  srcdir="$here/engine/pulumi-language-nodejs"
  key="langhost sdk $PULUMI_VERSION $(hash_of "$srcdir/main.go") $("$GO" env GOVERSION)"
  if stamp_ok langhost "$key" "$BIN/pulumi-language-nodejs"; then
    say "langhost: pulumi-language-nodejs already built"
  else
    t0=$(date +%s); w="$ENGINE_DIR/src/pulumi-language-nodejs"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    cp "$srcdir/main.go" .
    printf 'module copilot-fleet.local/engine/pulumi-language-nodejs\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 v%s\n' \
      "$PULUMI_VERSION" > go.mod
    say "langhost: go mod tidy + go build (our host on sdk/v3 v$PULUMI_VERSION)"
    "$GO" mod tidy
    gobuild -ldflags "-s -w -X main.version=$PULUMI_VERSION+copilot-fleet" -o "$BIN/pulumi-language-nodejs" .
    stamp_write langhost "$key"
    say "langhost: built in $(elapsed "$t0")"
  fi
fi

# --- 2b. the YAML language host --------------------------------------------------------------
# For Pulumi YAML programs (test/engine/yaml.test.ts runs one that uses the component package).
# Built at pulumi-yaml's own pins (pkg/v3 and sdk/v3 v3.206.0): lifting them to the CLI's v3.248.0,
# to reuse what the CLI step compiled, fails to compile (plugin.NewContextWithRoot and
# schema.NewPluginLoader changed signature). The host and the CLI talk over gRPC, whose protocol is
# compatible across these versions. Its go.mod has no replace directives; a wrapper module (not
# `go install ...@version`) keeps GOFLAGS=-mod=mod usable.
if wants yaml; then
  step="yaml"
  key="yaml $PULUMI_YAML_VERSION $("$GO" env GOVERSION) r2"
  if stamp_ok yaml "$key" "$BIN/pulumi-language-yaml"; then
    say "yaml: pulumi-language-yaml $PULUMI_YAML_VERSION already built"
  else
    t0=$(date +%s); w="$ENGINE_DIR/src/pulumi-language-yaml"; rm -rf "$w"; mkdir -p "$w"; cd "$w"
    yamlmod="$(mod_field "github.com/pulumi/pulumi-yaml@$PULUMI_YAML_VERSION" GoMod)"
    printf 'module copilot-fleet.local/engine/pulumi-language-yaml\n\ngo %s\n\nrequire github.com/pulumi/pulumi-yaml %s\n' \
      "$(sed -n 's/^go //p' "$yamlmod")" "$PULUMI_YAML_VERSION" > go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"\n' > tools.go
    say "yaml: go mod tidy + go build github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml@$PULUMI_YAML_VERSION (cold: compiles its own pkg/v3)"
    "$GO" mod tidy
    gobuild -ldflags "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=${PULUMI_YAML_VERSION}" \
      -o "$BIN/pulumi-language-yaml.new" github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
    mv "$BIN/pulumi-language-yaml.new" "$BIN/pulumi-language-yaml"
    stamp_write yaml "$key"
    say "yaml: built in $(elapsed "$t0")"
  fi
fi

# --- 3. resource plugins ---------------------------------------------------------------------
if wants kubernetes; then
  step="kubernetes"
  out="$ENGINE_DIR/plugins/kubernetes/pulumi-resource-kubernetes"
  key="kubernetes $KUBERNETES_MODULE_VERSION sdk $KUBERNETES_SDK_VERSION $("$GO" env GOVERSION)"
  if stamp_ok kubernetes "$key" "$out"; then
    say "kubernetes: plugin already built ($KUBERNETES_CODE_VERSION code)"
  else
    t0=$(date +%s); w="$ENGINE_DIR/src/pulumi-kubernetes-provider"
    say "kubernetes: writable copy of github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_MODULE_VERSION"
    dir="$(mod_field "github.com/pulumi/pulumi-kubernetes/provider/v4@$KUBERNETES_MODULE_VERSION" Dir)"
    [ -d "$dir" ] || { echo "pulumi-engine: could not download the kubernetes provider module" >&2; false; }
    if [ -d "$w" ]; then chmod -R u+w "$w"; rm -rf "$w"; fi
    mkdir -p "$w"; cp -r "$dir/." "$w/"; chmod -R u+w "$w"; cd "$w"
    # The module replaces its SDK with ../sdk (not in the zip): use the same release from the proxy.
    "$GO" mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
      -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_SDK_VERSION"
    "$GO" mod download
    say "kubernetes: schema-embed.json from schema.json (cmd/pulumi-resource-kubernetes/generate.go)"
    (cd cmd/pulumi-resource-kubernetes && VERSION="$KUBERNETES_CODE_VERSION" "$GO" run generate.go)
    say "kubernetes: go build ./cmd/pulumi-resource-kubernetes (cold: 19-37 min, ~4.4 GB RAM)"
    mkdir -p "$(dirname "$out")"
    gobuild -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_CODE_VERSION" \
      -o "$out" ./cmd/pulumi-resource-kubernetes
    stamp_write kubernetes "$key"
    say "kubernetes: built in $(elapsed "$t0")"
  fi
fi

# build_bridged NAME NPM_VERSION TF_MODULE_PATH TF_SOURCE: one of our bridged plugins
# (scripts/engine/pulumi-resource-NAME), in a wrapper module whose shim lies under the Terraform
# provider's module path, so that it may import the provider's internal package. TF_SOURCE is a
# version, or "MODULE VERSION" when the provider is published under another path than its go.mod
# declares (kreuzwerker/terraform-provider-docker).
build_bridged() {
  local name="$1" npm_version="$2" tf_path="$3" tf_source="$4"
  local out="$ENGINE_DIR/plugins/$name/pulumi-resource-$name"
  local srcdir="$here/engine/pulumi-resource-$name" stubs="$here/engine/stubs"
  local key sources
  sources="$(find "$srcdir" "$stubs" -type f \( -name '*.go' -o -name go.mod \) | sort | xargs cat | sha256sum | cut -c1-16)"
  key="$name $npm_version $BRIDGE_VERSION $tf_source $TF_PLUGIN_SDK_FORK $BRIDGED_PULUMI_VERSION $sources $("$GO" env GOVERSION)"
  if stamp_ok "$name" "$key" "$out"; then
    say "$name: plugin already built"
    return 0
  fi
  local t0 w tf_require tf_replace=""
  t0=$(date +%s); w="$ENGINE_DIR/src/pulumi-resource-$name"; rm -rf "$w"; mkdir -p "$w/shim"; cd "$w"
  cp "$srcdir"/*.go .; cp "$srcdir/shim/shim.go" shim/; cp -r "$stubs" stubs
  if [ "${tf_source#* }" != "$tf_source" ]; then
    tf_replace="replace $tf_path => $tf_source"
    tf_require="$tf_path v0.0.0"
  else
    tf_require="$tf_path $tf_source"
  fi
  local fork="replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 $TF_PLUGIN_SDK_FORK"
  printf 'module %s/shim\n\ngo 1.25\n\nrequire %s\n\n%s\n\n%s\n' "$tf_path" "$tf_require" "$tf_replace" "$fork" > shim/go.mod
  {
    printf 'module copilot-fleet.local/engine/pulumi-resource-%s\n\ngo 1.25.11\n\n' "$name"
    printf 'require (\n\tgithub.com/pulumi/pulumi-terraform-bridge/v3 %s\n' "$BRIDGE_VERSION"
    printf '\tgithub.com/pulumi/pulumi/pkg/v3 %s\n\tgithub.com/pulumi/pulumi/sdk/v3 %s\n' "$BRIDGED_PULUMI_VERSION" "$BRIDGED_PULUMI_VERSION"
    printf '\t%s/shim v0.0.0\n)\n\n' "$tf_path"
    printf '// The shim lies under the Terraform provider'"'"'s path, so it may import its internal package.\n'
    printf 'replace %s/shim => ./shim\n\n%s\n\n' "$tf_path" "$tf_replace"
    printf '// As in Pulumi'"'"'s bridged providers: the bridge needs Pulumi'"'"'s fork of the plugin SDK.\n%s\n\n' "$fork"
    printf '// Code generators the bridge links for program conversion; the proxy serves none of them.\n'
    printf 'replace github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 => ./stubs/pulumi-language-dotnet\n\n'
    printf 'replace github.com/pulumi/pulumi-java => ./stubs/pulumi-java\n\n'
    printf 'replace github.com/pulumi/pulumi-yaml => ./stubs/pulumi-yaml\n'
  } > go.mod
  say "$name: go mod tidy (bridge $BRIDGE_VERSION, $tf_path from ${tf_source})"
  (cd shim && "$GO" mod tidy)
  "$GO" mod tidy
  say "$name: go build (cold: 2-9 min on 2 shared cores)"
  mkdir -p "$(dirname "$out")"
  gobuild -ldflags "-s -w -X main.version=$npm_version" -o "$out" .
  stamp_write "$name" "$key"
  say "$name: built in $(elapsed "$t0")"
}

if wants random; then
  step="random"
  build_bridged random "$RANDOM_NPM_VERSION" github.com/terraform-providers/terraform-provider-random "$TF_RANDOM_VERSION"
fi

if wants docker; then
  step="docker"
  build_bridged docker "$DOCKER_NPM_VERSION" github.com/terraform-providers/terraform-provider-docker \
    "github.com/kreuzwerker/terraform-provider-docker $TF_DOCKER_VERSION"
fi

# --- 4. install the plugins at the versions the npm packages expect --------------------------
# install_plugin NAME VERSION BINARY: `pulumi plugin install` unless that exact binary is in place.
install_plugin() {
  local name="$1" version="$2" bin="$3" dest="$PULUMI_HOME/plugins/resource-$1-v$2/pulumi-resource-$1"
  if [ ! -x "$bin" ]; then
    echo "pulumi-engine: $name plugin not built ($bin missing): skipping its install" >&2
    return 0
  fi
  if [ "$force" != 1 ] && [ -x "$dest" ] && cmp -s "$bin" "$dest"; then
    say "plugins: $name v$version already installed"
  else
    say "plugins: pulumi plugin install resource $name $version -f $bin"
    "$BIN/pulumi" plugin install resource "$name" "$version" -f "$bin" --reinstall
  fi
}
if wants plugins || wants kubernetes || wants random || wants docker; then
  step="plugins"
  [ -x "$BIN/pulumi" ] || { echo "pulumi-engine: $BIN/pulumi is missing; build step cli first" >&2; false; }
  if wants plugins || wants kubernetes; then
    install_plugin kubernetes "$KUBERNETES_NPM_VERSION" "$ENGINE_DIR/plugins/kubernetes/pulumi-resource-kubernetes"
  fi
  if wants plugins || wants random; then
    install_plugin random "$RANDOM_NPM_VERSION" "$ENGINE_DIR/plugins/random/pulumi-resource-random"
  fi
  if wants plugins || wants docker; then
    install_plugin docker "$DOCKER_NPM_VERSION" "$ENGINE_DIR/plugins/docker/pulumi-resource-docker"
  fi
fi

step="finish"
if [ -n "$owner" ]; then
  say "handing $ENGINE_DIR back to $SUDO_USER"
  chown -R "$owner" "$ENGINE_DIR"
fi
say "done: source scripts/pulumi-env.sh to use $BIN/pulumi (PULUMI_HOME=$PULUMI_HOME)"
