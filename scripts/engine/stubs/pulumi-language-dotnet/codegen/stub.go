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

// GenerateProgram always fails: C# program generation is not in this build.
func GenerateProgram(program *pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("C# program generation is not available in this build")
}

// CSharpPackageInfo is the schema's language.csharp block of a package (field names as in the
// schema, so the bridge's schema output keeps its shape).
type CSharpPackageInfo struct {
	PackageReferences            map[string]string `json:"packageReferences,omitempty"`
	Namespaces                   map[string]string `json:"namespaces,omitempty"`
	Compatibility                string            `json:"compatibility,omitempty"`
	DictionaryConstructors       bool              `json:"dictionaryConstructors,omitempty"`
	ProjectReferences            []string          `json:"projectReferences,omitempty"`
	RootNamespace                string            `json:"rootNamespace,omitempty"`
	LiftSingleValueMethodReturns bool              `json:"liftSingleValueMethodReturns,omitempty"`
	RespectSchemaVersion         bool              `json:"respectSchemaVersion,omitempty"`
}

// CSharpPropertyInfo is the schema's language.csharp block of a property.
type CSharpPropertyInfo struct {
	Name string `json:"name,omitempty"`
}

// CSharpResourceInfo is the schema's language.csharp block of a resource.
type CSharpResourceInfo struct {
	Name string `json:"name,omitempty"`
}
