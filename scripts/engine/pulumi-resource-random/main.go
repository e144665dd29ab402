// A Pulumi resource plugin for `random`, bridged from the Terraform random provider, built by
// scripts/pulumi-engine.sh.
//
// Pulumi's own plugin (module github.com/pulumi/pulumi-random/provider/v4) is not served by the Go
// module proxy this project can reach, so this program bridges the same Terraform provider with
// the same pulumi-terraform-bridge, and maps each Terraform resource to the token that
// @pulumi/random registers (random_password -> random:index/randomPassword:RandomPassword). The
// bridge derives property names (snake_case -> camelCase) and marks Terraform's sensitive
// attributes (RandomPassword.result, bcryptHash) as secrets, as in the published plugin.
//
// Not carried over: the published plugin's schema (GetSchema answers a minimal one, so
// `pulumi package get-schema random` and codegen are not for this build), its docs, and its
// import-ID and renaming metadata.
package main

import (
	"context"
	"fmt"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// version is set at build time with -ldflags -X main.version=... to the @pulumi/random version.
var version = "0.0.0-dev"

// resources are the Terraform random provider's managed resources, by the name after random_.
var resources = map[string]string{
	"bytes": "Bytes", "id": "Id", "integer": "Integer", "password": "Password",
	"pet": "Pet", "shuffle": "Shuffle", "string": "String", "uuid": "Uuid",
}

func main() {
	ctx := context.Background()
	info := tfbridge.ProviderInfo{
		P:           pftfbridge.ShimProvider(shim.NewProvider()),
		Name:        "random",
		Version:     version,
		DisplayName: "random",
		Publisher:   "Pulumi",
		License:     "Apache-2.0",
		GitHubOrg:   "hashicorp",
		Resources:   map[string]*tfbridge.ResourceInfo{},
		// The bridge requires metadata; the published plugins ship what tfgen makes, an empty one serves.
		MetadataInfo: tfbridge.NewProviderMetadata([]byte("{}")),
	}
	for tf, pascal := range resources {
		info.Resources["random_"+tf] = &tfbridge.ResourceInfo{
			Tok: tokens.Type(fmt.Sprintf("random:index/random%s:Random%s", pascal, pascal)),
		}
	}
	schema := fmt.Sprintf(`{"name":"random","version":%q}`, version)
	pftfbridge.Main(ctx, "random", info, pftfbridge.ProviderMetadata{PackageSchema: []byte(schema)})
}
