// Package shim exposes the Terraform docker provider (kreuzwerker/terraform-provider-docker,
// whose go.mod names it github.com/terraform-providers/terraform-provider-docker).
//
// Its module path (github.com/terraform-providers/terraform-provider-docker/shim, set in the go.mod
// that scripts/pulumi-engine.sh writes) lies under the provider's own, which is what lets it import
// the provider's internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"

	docker "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the Terraform docker provider.
func NewProvider() *schema.Provider { return docker.New("")() }
