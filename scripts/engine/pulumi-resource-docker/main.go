// A Pulumi resource plugin for `docker`, bridged from the Terraform docker provider
// (kreuzwerker/terraform-provider-docker), built by scripts/pulumi-engine.sh.
//
// Pulumi's own plugin (github.com/pulumi/pulumi-docker/provider/v4 or /v5) is not served by the Go
// module proxy this project can reach, so this program bridges the Terraform provider that it is
// built on, with the tokens and property names that @pulumi/docker registers: docker_container ->
// docker:index/container:Container, docker_image -> RemoteImage, docker_config -> ServiceConfig,
// and so on; the provider's registry_auth config is registryAuth, the container's command and
// networks_advanced keep their names.
//
// docker.Image (docker:index/image:Image), which Pulumi implements natively in its module and not in
// Terraform, is our own local-build implementation in image.go. Missing against the published
// plugin: pushing images, the schema (GetSchema answers a minimal one), data sources, docs and
// renaming metadata.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unicode"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// version is set at build time with -ldflags -X main.version=... to the @pulumi/docker version.
var version = "0.0.0-dev"

// renamed are the Terraform resources whose Pulumi type is not the camel-cased Terraform name.
var renamed = map[string]string{"docker_config": "ServiceConfig", "docker_image": "RemoteImage"}

func pascal(snake string) string {
	parts := strings.Split(snake, "_")
	for i, p := range parts {
		if p != "" {
			r := []rune(p)
			r[0] = unicode.ToUpper(r[0])
			parts[i] = string(r)
		}
	}
	return strings.Join(parts, "")
}

func defaultHost() string {
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	if runtime.GOOS == "windows" {
		return "npipe:////./pipe/docker_engine"
	}
	return "unix:///var/run/docker.sock"
}

func main() {
	tf := shim.NewProvider()
	info := tfbridge.ProviderInfo{
		P:         shimv2.NewProvider(tf),
		Name:      "docker",
		Version:   version,
		GitHubOrg: "kreuzwerker",
		License:   "Apache-2.0",
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"DOCKER_HOST"},
				ComputeDefault: func(context.Context, tfbridge.ComputeDefaultOptions) (interface{}, error) {
					return defaultHost(), nil
				},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{},
		// The bridge requires metadata; the published plugins ship what tfgen makes, an empty one serves.
		MetadataInfo: tfbridge.NewProviderMetadata([]byte("{}")),
	}
	for name := range tf.ResourcesMap {
		base := strings.TrimPrefix(name, "docker_")
		typ := pascal(base)
		if r, ok := renamed[name]; ok {
			typ = r
		}
		mod := strings.ToLower(typ[:1]) + typ[1:]
		info.Resources[name] = &tfbridge.ResourceInfo{Tok: tokens.Type(fmt.Sprintf("docker:index/%s:%s", mod, typ))}
	}
	c := info.Resources["docker_container"]
	c.DeleteBeforeReplace = true
	c.Fields = map[string]*tfbridge.SchemaInfo{
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	info.Resources["docker_image"].Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}
	info.SetAutonaming(255, "-")

	schema := fmt.Sprintf(`{"name":"docker","version":%q}`, version)
	ctx := context.Background()
	info.P.InitLogging(ctx)
	// The bridged provider serves every Terraform resource; withImage (image.go) adds docker.Image.
	err := provider.Main("docker", func(host *provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return &withImage{ResourceProviderServer: tfbridge.NewProvider(ctx, host, "docker", version, info.P, info, []byte(schema)), host: host}, nil
	})
	if err != nil {
		cmdutil.ExitError(err.Error())
	}
}
