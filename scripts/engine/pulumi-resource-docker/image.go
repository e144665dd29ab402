// docker:index/image:Image for the bridged docker plugin: a local build through the Docker Engine
// API (POST /build, the classic builder), which podman's Docker-compatible service also answers.
//
// Pulumi's own plugin implements this resource natively (it is not a Terraform resource), and its
// module is not served by the proxy, so this file is our own implementation of the subset that
// @pulumi/docker programs use for a local image: imageName, build.{context, dockerfile, args,
// platform, target, network}, skipPush. Pushing is refused with a clear error (a registry push
// needs Pulumi's published plugin). The outputs are the inputs plus imageName, repoDigest (empty:
// a local build has none), baseImageName, registryServer and contextHash.
//
// contextHash is a SHA-256 over the build context as the engine would receive it (the files that
// .dockerignore lets through, their modes and contents, and the Dockerfile). Check adds it to the
// inputs, so an edit to any file in the context shows in `pulumi preview --diff` and rebuilds the
// image; an unchanged context is no change at all.
package main

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

const imageType tokens.Type = "docker:index/image:Image"

// dockerfileInContext is where a Dockerfile from outside the context goes in the tar we send.
const dockerfileInContext = ".copilot-fleet.Dockerfile"

// withImage serves docker:index/image:Image itself and hands every other call to the bridged provider.
type withImage struct {
	pulumirpc.ResourceProviderServer
	host *provider.HostClient

	mu         sync.Mutex
	dockerHost string // the provider's `host` config; "" means DOCKER_HOST or the default socket
}

func isImage(urn string) bool {
	return resource.URN(urn).IsValid() && resource.URN(urn).Type() == imageType
}

var marshal = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func (p *withImage) Configure(ctx context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	host := ""
	if args, err := plugin.UnmarshalProperties(req.GetArgs(), marshal); err == nil {
		if v, ok := args["host"]; ok && v.IsString() {
			host = v.StringValue()
		}
	}
	if host == "" {
		host = req.GetVariables()["docker:config:host"]
	}
	p.mu.Lock()
	p.dockerHost = host
	p.mu.Unlock()
	return p.ResourceProviderServer.Configure(ctx, req)
}

func (p *withImage) client() (*client.Client, error) {
	p.mu.Lock()
	host := p.dockerHost
	p.mu.Unlock()
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	return client.NewClientWithOpts(opts...)
}

// imageInputs is what this implementation reads from the resource's inputs.
type imageInputs struct {
	imageName  string
	context    string
	dockerfile string
	args       map[string]*string
	platform   string
	target     string
	network    string
	skipPush   bool
	known      bool // false while any of the above is unknown (a preview before its inputs resolve)
}

func str(m resource.PropertyMap, key string) (string, bool, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok || v.IsNull() {
		return "", false, true
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsComputed() || v.IsOutput() && !v.OutputValue().Known {
		return "", true, false
	}
	if v.IsOutput() {
		v = v.OutputValue().Element
	}
	if !v.IsString() {
		return "", true, true
	}
	return v.StringValue(), true, true
}

func readInputs(m resource.PropertyMap) (imageInputs, []*pulumirpc.CheckFailure) {
	in := imageInputs{known: true, args: map[string]*string{}}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	name, present, known := str(m, "imageName")
	in.known = in.known && known
	if known && (!present || name == "") {
		fail("imageName", "imageName is required: the repository and tag to build, e.g. copilot-cli:1.0.102")
	}
	in.imageName = name
	in.skipPush = false
	if v, ok := m["skipPush"]; ok && v.IsBool() {
		in.skipPush = v.BoolValue()
	} else if ok && v.IsComputed() {
		in.known = false
	}
	if in.known && !in.skipPush {
		fail("skipPush", "this docker plugin (built from source by scripts/pulumi-engine.sh) builds into the local engine only and cannot push; set skipPush: true, or use Pulumi's published docker plugin to push to a registry")
	}
	b, ok := m["build"]
	if !ok || b.IsNull() {
		fail("build", "build is required: { context, dockerfile?, args?, platform?, target?, network? }")
		return in, failures
	}
	if b.IsComputed() {
		in.known = false
		return in, failures
	}
	if !b.IsObject() {
		fail("build", "build must be an object { context, dockerfile?, args?, platform?, target?, network? }")
		return in, failures
	}
	bo := b.ObjectValue()
	for _, k := range []string{"cacheFrom", "builderVersion", "addHosts", "secrets", "ssh"} {
		if v, has := bo[resource.PropertyKey(k)]; has && !v.IsNull() {
			fail("build."+k, fmt.Sprintf("build.%s is not supported by this docker plugin (built from source by scripts/pulumi-engine.sh); supported: context, dockerfile, args, platform, target, network", k))
		}
	}
	var k bool
	in.context, _, k = str(bo, "context")
	in.known = in.known && k
	if in.context == "" {
		in.context = "."
	}
	in.dockerfile, _, k = str(bo, "dockerfile")
	in.known = in.known && k
	in.platform, _, k = str(bo, "platform")
	in.known = in.known && k
	in.target, _, k = str(bo, "target")
	in.known = in.known && k
	in.network, _, k = str(bo, "network")
	in.known = in.known && k
	if a, has := bo["args"]; has && !a.IsNull() {
		if a.IsComputed() {
			in.known = false
		} else if a.IsObject() {
			for key := range a.ObjectValue() {
				s, _, argKnown := str(a.ObjectValue(), string(key))
				in.known = in.known && argKnown
				v := s
				in.args[string(key)] = &v
			}
		} else {
			fail("build.args", "build.args must be a map of build argument names to strings")
		}
	}
	return in, failures
}

// contextFile is one entry of the build context as it is sent.
type contextFile struct {
	rel  string // slash-separated, relative to the context; dockerfileInContext for an outside Dockerfile
	abs  string
	info os.FileInfo
}

// contextFiles lists the context after .dockerignore, in a stable order, and where the Dockerfile is in it.
func contextFiles(in imageInputs) ([]contextFile, string, error) {
	root, err := filepath.Abs(in.context)
	if err != nil {
		return nil, "", err
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, "", fmt.Errorf("build.context %q is not a folder", in.context)
	}
	dockerfile := in.dockerfile
	if dockerfile == "" {
		dockerfile = filepath.Join(root, "Dockerfile")
	} else if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(root, dockerfile)
	}
	if _, err := os.Stat(dockerfile); err != nil {
		return nil, "", fmt.Errorf("build.dockerfile %q: %v", dockerfile, err)
	}
	var patterns []string
	if f, err := os.Open(filepath.Join(root, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		_ = f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("%s/.dockerignore: %v", root, err)
		}
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, "", fmt.Errorf("%s/.dockerignore: %v", root, err)
	}
	dockerfileRel := ""
	if rel, err := filepath.Rel(root, dockerfile); err == nil && !strings.HasPrefix(rel, "..") {
		dockerfileRel = filepath.ToSlash(rel)
	}
	var files []contextFile
	err = filepath.Walk(root, func(abs string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if abs == root {
			return nil
		}
		rel, _ := filepath.Rel(root, abs)
		rel = filepath.ToSlash(rel)
		// The Dockerfile always goes (the engine needs it), as the docker CLI does.
		if rel != dockerfileRel {
			if ignored, err := pm.MatchesOrParentMatches(rel); err != nil {
				return err
			} else if ignored {
				return nil
			}
		}
		files = append(files, contextFile{rel: rel, abs: abs, info: info})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if dockerfileRel == "" {
		info, err := os.Stat(dockerfile)
		if err != nil {
			return nil, "", err
		}
		dockerfileRel = dockerfileInContext
		files = append(files, contextFile{rel: dockerfileRel, abs: dockerfile, info: info})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	return files, dockerfileRel, nil
}

func contextHash(files []contextFile) (string, error) {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%o\x00", f.rel, f.info.Mode())
		switch {
		case f.info.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(f.abs)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00", target)
		case f.info.Mode().IsRegular():
			r, err := os.Open(f.abs)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, r)
			_ = r.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func writeContext(w io.Writer, files []contextFile) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		link := ""
		if f.info.Mode()&os.ModeSymlink != 0 {
			var err error
			if link, err = os.Readlink(f.abs); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(f.info, link)
		if err != nil {
			return err
		}
		hdr.Name = f.rel
		if f.info.IsDir() {
			hdr.Name += "/"
		}
		// Reproducible and not tied to this machine's users.
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if f.info.Mode().IsRegular() {
			r, err := os.Open(f.abs)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, r)
			_ = r.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

func (p *withImage) Check(ctx context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Check(ctx, req)
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	in, failures := readInputs(news)
	if len(failures) == 0 && in.known {
		files, _, err := contextFiles(in)
		if err != nil {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "build", Reason: err.Error()})
		} else if sum, err := contextHash(files); err != nil {
			failures = append(failures, &pulumirpc.CheckFailure{Property: "build", Reason: err.Error()})
		} else {
			news["contextHash"] = resource.NewStringProperty(sum)
		}
	} else if !in.known {
		news["contextHash"] = resource.MakeComputed(resource.NewStringProperty(""))
	}
	inputs, err := plugin.MarshalProperties(news, marshal)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// diffKeys are the inputs whose change rebuilds the image (an update in place: a new image ID).
var diffKeys = []resource.PropertyKey{"imageName", "build", "skipPush", "registry", "contextHash"}

func (p *withImage) Diff(ctx context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Diff(ctx, req)
	}
	olds, err := plugin.UnmarshalProperties(req.GetOldInputs(), marshal)
	if err != nil {
		return nil, err
	}
	if len(olds) == 0 {
		if olds, err = plugin.UnmarshalProperties(req.GetOlds(), marshal); err != nil {
			return nil, err
		}
	}
	news, err := plugin.UnmarshalProperties(req.GetNews(), marshal)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, HasDetailedDiff: true, DetailedDiff: map[string]*pulumirpc.PropertyDiff{}}
	for _, k := range diffKeys {
		o, hasO := olds[k]
		n, hasN := news[k]
		if hasO == hasN && (!hasO || o.DeepEquals(n)) && !n.ContainsUnknowns() {
			continue
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		if !hasO {
			kind = pulumirpc.PropertyDiff_ADD
		} else if !hasN {
			kind = pulumirpc.PropertyDiff_DELETE
		}
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
		resp.Diffs = append(resp.Diffs, string(k))
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	return resp, nil
}

// outputs are the inputs plus what the published plugin also reports for a local build.
func outputs(inputs resource.PropertyMap, in imageInputs) resource.PropertyMap {
	out := inputs.Copy()
	if !in.known {
		// A preview before the inputs resolve: imageName stays what the program gave (maybe unknown).
		for _, k := range []resource.PropertyKey{"baseImageName", "registryServer", "repoDigest"} {
			out[k] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		return out
	}
	out["imageName"] = resource.NewStringProperty(in.imageName)
	out["baseImageName"] = resource.NewStringProperty(in.imageName)
	out["registryServer"] = resource.NewStringProperty("")
	// A local build has no repository digest (the published plugin reports "" too without a push).
	out["repoDigest"] = resource.NewStringProperty("")
	return out
}

func (p *withImage) build(ctx context.Context, urn string, in imageInputs) (string, error) {
	files, dockerfile, err := contextFiles(in)
	if err != nil {
		return "", err
	}
	cli, err := p.client()
	if err != nil {
		return "", fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeContext(pw, files)) }()
	resp, err := cli.ImageBuild(ctx, pr, build.ImageBuildOptions{
		Tags:        []string{in.imageName},
		Dockerfile:  dockerfile,
		BuildArgs:   in.args,
		Platform:    in.platform,
		Target:      in.target,
		NetworkMode: in.network,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		_ = pr.Close()
		return "", fmt.Errorf("building %s through %s: %w", in.imageName, cli.DaemonHost(), err)
	}
	defer resp.Body.Close()
	var tail []string
	dec := json.NewDecoder(resp.Body)
	for {
		var msg jsonmessage.JSONMessage
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", fmt.Errorf("building %s: reading the engine's build output: %w", in.imageName, err)
		}
		if msg.Error != nil {
			return "", fmt.Errorf("building %s failed: %s\n%s", in.imageName, msg.Error.Message, strings.Join(tail, "\n"))
		}
		for _, line := range strings.Split(strings.TrimRight(msg.Stream, "\n"), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			tail = append(tail, line)
			if len(tail) > 40 {
				tail = tail[1:]
			}
			_ = p.host.LogStatus(ctx, diag.Info, resource.URN(urn), line)
		}
	}
	inspect, err := cli.ImageInspect(ctx, in.imageName)
	if err != nil {
		return "", fmt.Errorf("built %s but cannot inspect it: %w\n%s", in.imageName, err, strings.Join(tail, "\n"))
	}
	return inspect.ID, nil
}

func (p *withImage) createOrUpdate(ctx context.Context, urn string, props *structpb.Struct, preview bool) (string, *structpb.Struct, error) {
	inputs, err := plugin.UnmarshalProperties(props, marshal)
	if err != nil {
		return "", nil, err
	}
	in, failures := readInputs(inputs)
	if len(failures) > 0 {
		return "", nil, fmt.Errorf("%s: %s", failures[0].Property, failures[0].Reason)
	}
	id := ""
	if !preview {
		if id, err = p.build(ctx, urn, in); err != nil {
			return "", nil, err
		}
	}
	out, err := plugin.MarshalProperties(outputs(inputs, in), marshal)
	return id, out, err
}

func (p *withImage) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Create(ctx, req)
	}
	id, out, err := p.createOrUpdate(ctx, req.GetUrn(), req.GetProperties(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: out}, nil
}

func (p *withImage) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Update(ctx, req)
	}
	_, out, err := p.createOrUpdate(ctx, req.GetUrn(), req.GetNews(), req.GetPreview())
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: out}, nil
}

// Read (refresh): the image is still there under its name, or it is gone (empty ID).
func (p *withImage) Read(ctx context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Read(ctx, req)
	}
	state, err := plugin.UnmarshalProperties(req.GetProperties(), marshal)
	if err != nil {
		return nil, err
	}
	name, _, _ := str(state, "imageName")
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, name); err != nil {
		if client.IsErrNotFound(err) {
			return &pulumirpc.ReadResponse{}, nil
		}
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

// Delete removes the tag this resource built; the layers go when nothing else uses them.
func (p *withImage) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if !isImage(req.GetUrn()) {
		return p.ResourceProviderServer.Delete(ctx, req)
	}
	state, err := plugin.UnmarshalProperties(req.GetProperties(), marshal)
	if err != nil {
		return nil, err
	}
	name, _, _ := str(state, "imageName")
	cli, err := p.client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if _, err := cli.ImageRemove(ctx, name, image.RemoveOptions{}); err != nil && !client.IsErrNotFound(err) {
		// Still used by a container this stack does not manage: the stack no longer tracks it, say so.
		_ = p.host.Log(ctx, diag.Warning, resource.URN(req.GetUrn()), fmt.Sprintf("image %s left in the engine: %v", name, err))
	}
	return &emptypb.Empty{}, nil
}
