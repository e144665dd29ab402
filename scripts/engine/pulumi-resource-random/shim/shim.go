// Package shim exposes the Terraform random provider's internal plugin-framework provider.
//
// Its module path (github.com/terraform-providers/terraform-provider-random/shim, set in the go.mod
// that scripts/pulumi-engine.sh writes) lies under the provider's own, which is what lets it import
// the provider's internal package.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"

	random "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the Terraform random provider.
func NewProvider() provider.Provider { return random.New() }
