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
//   - RunPlugin: plugins written in TypeScript/JavaScript, which the engine launches through the
//     language host when a folder (not a binary) is the plugin:
//       kind "analyzer" (a policy pack, `pulumi preview --policy-pack DIR`): DIR holds
//         PulumiPolicy.yaml; we run `node @pulumi/pulumi/cmd/run-policy-pack ARGS... DIR` in DIR
//         (the script wants the engine address first and the program last, and @pulumi/policy
//         reads the pack's package.json from the working directory);
//       any other kind (a source-based resource plugin, `pulumi package add DIR`): DIR holds
//         PulumiPlugin.yaml; we run `node @pulumi/pulumi/cmd/run-plugin DIR ARGS...` in the CLI's
//         working directory (run-plugin serves the components that DIR's entry exports).
//     Both scripts resolve from DIR the way Node would. The plugin's stdout (its first line is the
//     gRPC port the engine dials) and stderr stream back as RunPluginResponse messages, then its
//     exit code. When the engine is done with the plugin it cancels the call and we stop the process.
//   - GetPluginInfo, About, GetProgramDependencies, InstallDependencies (a no-op: the caller runs
//     npm ci).
//
// Not implemented (the engine gets codes.Unimplemented): code generation, templates, Pack/Link,
// debugger attach, deprecated synchronous invokes (no --sync pipes). Unlike Pulumi's own host, a
// policy pack does not get the stack's config in PULUMI_CONFIG (Pulumi proxies the analyzer's
// stack-configuration call to learn it); this project's policies read only their own policy config.
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
	"sync"
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
	_ = flag.String("root", "", "ignored: the program's root directory also comes with every request")
	// Hosts built on older SDKs (pulumi-language-yaml v1.25.0 embeds sdk v3.206.0, and starts this
	// host for source-based plugins) also pass the runtime options as -KEY=VALUE flags; every request
	// carries them again, so unknown flags of that form are dropped rather than fatal.
	_ = flag.CommandLine.Parse(knownFlags(os.Args[1:]))
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

// knownFlags drops -KEY=VALUE arguments for flags this host does not define.
func knownFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if strings.HasPrefix(a, "-") && strings.Contains(a, "=") {
			name := strings.TrimLeft(a[:strings.Index(a, "=")], "-")
			if flag.CommandLine.Lookup(name) == nil {
				continue
			}
		}
		out = append(out, a)
	}
	return out
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

// resolveScript finds a module (@pulumi/pulumi/cmd/run, ...) the way node would from dir.
func resolveScript(ctx context.Context, node, module, dir string) (string, error) {
	const script = `console.log(require.resolve(process.argv[1], { paths: [process.argv[2]] }))`
	out, err := exec.CommandContext(ctx, node, "-e", script, module, dir).Output()
	if err != nil {
		return "", fmt.Errorf("could not find %s from %s (is @pulumi/pulumi installed? run npm ci): %w",
			module, dir, err)
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
	runScript, err := resolveScript(ctx, node, "@pulumi/pulumi/cmd/run", info.GetProgramDirectory())
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

// streamWriter sends what a plugin writes to one of its streams as RunPluginResponse messages.
// gRPC forbids concurrent Sends on one stream, and exec copies stdout and stderr on two goroutines,
// hence the shared lock.
type streamWriter struct {
	mu     *sync.Mutex
	srv    grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]
	stderr bool
}

func (w streamWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...) // exec reuses its buffer; the message must own its bytes
	msg := &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	if w.stderr {
		msg = &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.srv.Send(msg); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, srv grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	// Cancelled when the engine kills the plugin (it cancels this call) or the engine goes away.
	ctx := srv.Context()
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the PATH: %w", err)
	}
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	if dir == "" {
		return errors.New("RunPlugin: the request names no program directory")
	}
	opts, err := parseOptions(info.GetOptions().AsMap())
	if err != nil {
		return err
	}
	analyzer := req.GetKind() == "analyzer"
	module := "@pulumi/pulumi/cmd/run-plugin"
	if analyzer {
		module = "@pulumi/pulumi/cmd/run-policy-pack"
	}
	script, err := resolveScript(ctx, node, module, dir)
	if err != nil {
		return err
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, script)
	workDir := req.GetPwd()
	if analyzer {
		// run-policy-pack: <engine address> <program>; the pack reads ./package.json.
		args = append(args, req.GetArgs()...)
		args = append(args, dir)
		workDir = dir
	} else {
		// run-plugin: <program> then the plugin's own arguments (the engine address).
		args = append(args, dir)
		args = append(args, req.GetArgs()...)
	}
	if workDir == "" {
		workDir = dir
	}

	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	env = append([]string{}, env...)
	if opts.typescript {
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if opts.tsconfig != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}

	var mu sync.Mutex
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = workDir
	cmd.Env = env
	cmd.Stdout = streamWriter{mu: &mu, srv: srv}
	cmd.Stderr = streamWriter{mu: &mu, srv: srv, stderr: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second

	err = cmd.Run()
	if ctx.Err() != nil {
		return nil // the engine stopped the plugin: nobody is listening for an exit code
	}
	code := 0
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("could not run %s: %w", module, err)
		}
		code = exitErr.ExitCode()
	}
	mu.Lock()
	defer mu.Unlock()
	return srv.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}
