// A minimal Node.js language host for the Pulumi engine, built by scripts/pulumi-engine.sh.
//
// Pulumi's own host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is
// not served by the Go module proxy this project can reach, at any commit we tried, so the engine
// script builds this one instead. It implements the part of the LanguageRuntime protocol that
// `pulumi preview/up/destroy` of a TypeScript program needs:
//
//   - Handshake / health check against the engine;
//   - GetRequiredPackages / GetRequiredPlugins: the resource plugins named by the `pulumi` block of
//     each direct dependency's package.json (as @pulumi/kubernetes and friends declare them);
//   - Run: starts `node @pulumi/pulumi/cmd/run` (resolved from the program directory) with the
//     arguments and PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS environment that the SDK reads, and
//     TypeScript through the SDK's ts-node support (the `typescript` runtime option, default true);
//   - GetPluginInfo, About, GetProgramDependencies, InstallDependencies (a no-op: the caller runs
//     npm ci).
//
// Not implemented (the engine gets codes.Unimplemented): policy packs (RunPlugin), code generation,
// templates, Pack/Link, debugger attach, deprecated synchronous invokes (no --sync pipes).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set at build time with -ldflags -X main.version=...
var version = "0.0.0-dev"

// exitAfterUserActionableMessage is the exit code @pulumi/pulumi's run script uses when it has
// already printed an error the user can act on; the engine should then bail without more output.
const exitAfterUserActionableMessage = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	_ = flag.String("tracing", "", "ignored (accepted for compatibility with the engine)")
	_ = flag.String("runtime", "nodejs", "ignored: only nodejs is supported")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}

	h := &host{}
	if args := flag.Args(); len(args) > 0 {
		h.engineAddress = args[0]
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancel := make(chan bool)
	go func() { <-ctx.Done(); close(cancel) }()

	if h.engineAddress != "" {
		if err := rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, stop); err != nil {
			fatalf("could not start the health check: %v", err)
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fatalf("could not start the language host RPC server: %v", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatalf("language host RPC server stopped: %v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: "+format+"\n", args...)
	os.Exit(1)
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	if h.engineAddress != "" {
		hc, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		if err := rpcutil.Healthcheck(hc, h.engineAddress, 5*time.Minute, stop); err != nil {
			stop()
			return nil, fmt.Errorf("could not start the health check: %w", err)
		}
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	Pulumi       struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackageJSON(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// resourcePackages lists the resource plugins that the program's direct dependencies declare.
func resourcePackages(programDir string) ([]*pulumirpc.PackageDependency, error) {
	root, err := readPackageJSON(filepath.Join(programDir, "package.json"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	names := make([]string, 0, len(root.Dependencies))
	for name := range root.Dependencies {
		names = append(names, name)
	}
	sort.Strings(names)
	var deps []*pulumirpc.PackageDependency
	for _, name := range names {
		dep, err := readPackageJSON(filepath.Join(programDir, "node_modules", name, "package.json"))
		if err != nil || !dep.Pulumi.Resource {
			continue // not installed, or not a resource package
		}
		pluginName := dep.Pulumi.Name
		if pluginName == "" {
			pluginName = strings.TrimPrefix(dep.Name, "@pulumi/")
		}
		v := dep.Pulumi.Version
		if v == "" {
			v = dep.Version
		}
		deps = append(deps, &pulumirpc.PackageDependency{
			Name: pluginName, Kind: "resource", Version: "v" + strings.TrimPrefix(v, "v"), Server: dep.Pulumi.Server,
		})
	}
	return deps, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := resourcePackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := resourcePackages(req.GetInfo().GetProgramDirectory())
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: d.Name, Kind: d.Kind, Version: d.Version, Server: d.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	root, err := readPackageJSON(filepath.Join(req.GetInfo().GetProgramDirectory(), "package.json"))
	if err != nil {
		return nil, err
	}
	var out []*pulumirpc.DependencyInfo
	for name := range root.Dependencies {
		dep, err := readPackageJSON(filepath.Join(req.GetInfo().GetProgramDirectory(), "node_modules", name, "package.json"))
		if err != nil {
			continue
		}
		out = append(out, &pulumirpc.DependencyInfo{Name: name, Version: dep.Version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: out}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("could not find node on the PATH: %w", err)
	}
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", node, err)
	}
	return &pulumirpc.AboutResponse{Executable: node, Version: strings.TrimSpace(string(out))}, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	srv grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	msg := "pulumi-language-nodejs (copilot-fleet build): not installing dependencies; run npm ci yourself\n"
	return srv.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

type options struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parseOptions(m map[string]any) (options, error) {
	o := options{typescript: true}
	if v, ok := m["typescript"]; ok {
		b, ok := v.(bool)
		if !ok {
			return o, errors.New("the nodejs runtime option typescript must be a boolean")
		}
		o.typescript = b
	}
	if v, ok := m["tsconfig"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("the nodejs runtime option tsconfig must be a string")
		}
		o.tsconfig = s
	}
	if v, ok := m["nodeargs"]; ok {
		s, ok := v.(string)
		if !ok {
			return o, errors.New("the nodejs runtime option nodeargs must be a string")
		}
		o.nodeargs = strings.Fields(s)
	}
	return o, nil
}

// resolveRunScript finds @pulumi/pulumi/cmd/run the way node would from the program directory.
func resolveRunScript(ctx context.Context, node, programDir string) (string, error) {
	const script = `console.log(require.resolve(process.argv[1], { paths: [process.argv[2]] }))`
	out, err := exec.CommandContext(ctx, node, "-e", script, "@pulumi/pulumi/cmd/run", programDir).Output()
	if err != nil {
		return "", fmt.Errorf("could not find @pulumi/pulumi/cmd/run from %s (is @pulumi/pulumi installed?): %w",
			programDir, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the PATH: " + err.Error()}, nil
	}
	info := req.GetInfo()
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runScript, err := resolveRunScript(ctx, node, info.GetProgramDirectory())
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runScript)
	flagArg := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	// The SDK talks to the engine's resource monitor directly (no proxy in between).
	flagArg("monitor", req.GetMonitorAddress())
	flagArg("engine", h.engineAddress)
	flagArg("organization", req.GetOrganization())
	flagArg("project", req.GetProject())
	flagArg("root-directory", info.GetRootDirectory())
	flagArg("stack", req.GetStack())
	flagArg("pwd", info.GetProgramDirectory())
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagArg("parallel", strconv.Itoa(int(req.GetParallel())))
	entry := info.GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	// The SDK still reads config keys in the old <package>:config:<name> form.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretJSON, _ := json.Marshal(secretKeys)

	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretJSON))
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = info.GetProgramDirectory()
	cmd.Env = env
	cmd.Stdout = struct{ *os.File }{os.Stdout}
	cmd.Stderr = struct{ *os.File }{os.Stderr}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	if err := cmd.Run(); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitAfterUserActionableMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}
