package yamlconf

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// IsNull reports whether n is an empty value: missing, "~", "null" or blank.
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Describe names what a node holds, for "got ..." in messages.
func Describe(n *yaml.Node) string {
	switch {
	case n == nil || IsNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.AliasNode:
		return "an alias"
	default:
		return meshwatch.Quote(n.Value)
	}
}
