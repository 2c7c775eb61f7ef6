package yamlconf

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/meshwatch/meshwatch"
)

// Parse parses data, the content of the file name, into a node tree and
// returns its root value, nil for an empty document. A YAML syntax error, or a second document that is not
// empty, is returned as a problem.
func Parse(name string, data []byte) (*yaml.Node, *meshwatch.Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			p := syntaxProblem(name, data, err)
			return nil, &p
		}
		if len(doc.Content) == 0 || IsNull(doc.Content[0]) {
			continue // a stray "---"
		}
		if root != nil {
			return nil, &meshwatch.Problem{Pos: meshwatch.Position{File: name, Line: doc.Line, Col: doc.Column},
				Msg: `invalid YAML: a second document; the config must be a single document (remove the "---" line)`}
		}
		root = doc.Content[0]
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlParserErrors are the messages of the YAML parser, as opposed to its
// scanner. go.yaml.in/yaml/v3 prints the line of a parser error counted from
// 0 and that of a scanner error counted from 1, and prints no line at all
// for an error on the first line.
var yamlParserErrors = []string{
	"did not find expected <stream-start>",
	"did not find expected <document start>",
	"found undefined tag handle",
	"did not find expected node content",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found duplicate %TAG directive",
}

// syntaxProblem turns a YAML syntax error into a problem at its line.
func syntaxProblem(name string, data []byte, err error) meshwatch.Problem {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	col := 0
	switch {
	case slices.Contains(yamlParserErrors, msg):
		line++
	case strings.HasPrefix(msg, "unknown anchor "):
		line, col = findAlias(data, msg)
	case line == 0:
		// Errors of the reader carry no line at all; find the bad bytes.
		if l, c, ok := findBadChar(data); ok {
			line, col = l, c
		} else {
			line = 1
		}
	}
	if hint, ok := yamlHints[msg]; ok {
		msg += " (" + hint + ")"
	}
	return meshwatch.Problem{Pos: meshwatch.Position{File: name, Line: line, Col: col}, Msg: "invalid YAML: " + msg}
}

// yamlHints say what usually causes the YAML errors whose words are obscure.
var yamlHints = map[string]string{
	"did not find expected ',' or ']'":               "a [ list is not closed with ]",
	"did not find expected ',' or '}'":               "a { mapping is not closed with }",
	"mapping values are not allowed in this context": `a value that holds ": " must be quoted`,
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// findAlias finds the first use of the alias named in an "unknown anchor"
// message.
func findAlias(data []byte, msg string) (line, col int) {
	m := unknownAnchor.FindStringSubmatch(msg)
	if m == nil {
		return 1, 0
	}
	i := bytes.Index(data, []byte("*"+m[1]))
	if i < 0 {
		return 1, 0
	}
	return lineCol(data, i)
}

// findBadChar finds the first byte sequence that YAML does not allow:
// invalid UTF-8 or a control character.
func findBadChar(data []byte) (line, col int, ok bool) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		bad := (r == utf8.RuneError && size == 1) ||
			(r < 0x20 && r != '\t' && r != '\n' && r != '\r') ||
			(r >= 0x7F && r <= 0x9F && r != 0x85) ||
			(r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF
		if bad {
			line, col = lineCol(data, i)
			return line, col, true
		}
		i += size
	}
	return 0, 0, false
}

// lineCol returns the line and column (in runes, from 1) of byte offset i.
func lineCol(data []byte, i int) (line, col int) {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	return bytes.Count(data[:i], []byte("\n")) + 1, utf8.RuneCount(data[start:i]) + 1
}
