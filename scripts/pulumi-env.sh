# Source this (bash or zsh) to use the engine that scripts/pulumi-engine.sh built:
#   source scripts/pulumi-env.sh
# Puts its bin/ (pulumi, pulumi-language-nodejs, pulumi-language-yaml) first on PATH and points PULUMI_HOME at its
# home/, where the plugins were installed (and where `pulumi login` keeps its state).
# PULUMI_CONFIG_PASSPHRASE is left to you.
if [ -n "${COPILOT_FLEET_ENGINE_DIR:-}" ]; then
  _cf_engine="$COPILOT_FLEET_ENGINE_DIR"
elif [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  _cf_engine="$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cache/copilot-fleet/engine"
else
  _cf_engine="$HOME/.cache/copilot-fleet/engine"
fi
if [ -x "$_cf_engine/bin/pulumi" ]; then
  case ":$PATH:" in
    *":$_cf_engine/bin:"*) ;;
    *) export PATH="$_cf_engine/bin:$PATH" ;;
  esac
  export PULUMI_HOME="$_cf_engine/home"
  export PULUMI_SKIP_UPDATE_CHECK=true
else
  echo "pulumi-env: no engine at $_cf_engine (run scripts/pulumi-engine.sh first)" >&2
fi
unset _cf_engine
