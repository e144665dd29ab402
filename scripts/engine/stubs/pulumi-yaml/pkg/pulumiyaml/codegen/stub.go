// Stand-in for a code generator that the Go module proxy here does not serve, so that
// pulumi-terraform-bridge (which links it for `tfgen` program conversion) builds as a runtime
// plugin. scripts/pulumi-engine.sh wires it with a replace directive. Converting programs to this
// language is not available in the plugins built that way; nothing at run time calls it.
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram always fails: YAML program generation is not in this build.
func GenerateProgram(program *pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("YAML program generation is not available in this build")
}
