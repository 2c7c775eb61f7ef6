// Package yamlconf is the YAML machinery of meshwatch's configuration
// files: a strict decoder that keeps the position of every value, the
// parser that turns YAML syntax errors into placed problems, the encoder
// that writes a configuration back, and the bounded reading of the files
// a configuration names.
//
// Decoder decodes a yaml.Node tree into Go values by reflection, by their
// yaml struct tags, and reports every unknown or duplicate key and every
// value of the wrong type as a meshwatch.Problem with its file, line,
// column and path (products[2].slos[0].threshold), going on after each so
// that every problem is reported at once. It expands ${VAR} and
// ${VAR:-default} in scalar values, merges "<<" keys, bounds what aliases
// expand to, and keeps the values that must never show in a message
// (secrets). Package config loads configuration files with it and package
// odcs data contracts.
//
// The messages of this package are user-visible and pinned by the golden
// files of packages config and odcs.
package yamlconf
