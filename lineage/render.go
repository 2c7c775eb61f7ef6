package lineage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Formats of Write.
const (
	FormatDOT     = "dot"
	FormatMermaid = "mermaid"
	FormatJSON    = "json"
)

// Formats lists the formats Write knows.
var Formats = []string{FormatDOT, FormatMermaid, FormatJSON}

// Write renders g in format: FormatDOT, FormatMermaid or FormatJSON.
func Write(w io.Writer, g Graph, format string) error {
	switch format {
	case FormatDOT:
		return WriteDOT(w, g)
	case FormatMermaid:
		return WriteMermaid(w, g)
	case FormatJSON:
		return WriteJSON(w, g)
	default:
		return fmt.Errorf("unknown format %q: want dot, mermaid or json", format)
	}
}

// WriteJSON writes g as indented JSON, {"nodes":[…],"edges":[…]}, without
// HTML escaping (a name reads "a>b", not "a\u003eb").
func WriteJSON(w io.Writer, g Graph) error {
	if g.Nodes == nil {
		g.Nodes = []Node{}
	}
	if g.Edges == nil {
		g.Edges = []Edge{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(g)
}

// dotShapes are the Graphviz shapes of each node kind.
var dotShapes = map[string]string{KindProduct: "box", KindGroup: "ellipse", KindTeam: "house"}

// dotQuote quotes s as a Graphviz ID (a double-quoted string): a quote and
// a backslash are escaped, so that no name ends the string or turns into
// an escape sequence (\l, \N…) in a label; a line break becomes \n, a
// line break in a label, and a distinct ID.
func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}

// WriteDOT writes g as a Graphviz digraph (render with dot -Tsvg): products
// are boxes, groups ellipses, teams houses; an undeclared group is dashed
// and so is every edge that is not declared (an observed consumer no
// product declares, a suggested feeds edge, which is also grey).
func WriteDOT(w io.Writer, g Graph) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "digraph lineage {")
	fmt.Fprintln(bw, "  rankdir=LR;")
	fmt.Fprintln(bw, `  node [fontname="Helvetica"];`)
	fmt.Fprintln(bw, `  edge [fontname="Helvetica", fontsize=10];`)
	for _, n := range g.Nodes {
		attrs := []string{"label=" + dotQuote(n.Label), "shape=" + dotShapes[n.Kind]}
		if !n.Declared {
			attrs = append(attrs, "style=dashed")
		}
		fmt.Fprintf(bw, "  %s [%s];\n", dotQuote(n.ID), strings.Join(attrs, ", "))
	}
	for _, e := range g.Edges {
		attrs := []string{"label=" + dotQuote(e.Kind)}
		if !e.Declared {
			attrs = append(attrs, "style=dashed")
		}
		if e.Kind == EdgeSuggestedFeeds {
			attrs = append(attrs, "color=gray50", "fontcolor=gray50")
		}
		fmt.Fprintf(bw, "  %s -> %s [%s];\n", dotQuote(e.From), dotQuote(e.To), strings.Join(attrs, ", "))
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

// mermaidLabel escapes a label for a quoted Mermaid node text: quotes and
// the characters Mermaid reads as markup become entity codes.
func mermaidLabel(s string) string {
	r := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "#", "#35;", "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}

// WriteMermaid writes g as a Mermaid flowchart (flowchart LR). Node IDs
// are n0, n1… in the graph's order, whatever the names hold; products are
// rectangles, groups stadiums, teams hexagons. Undeclared groups are
// dashed (class undeclared) and so are edges that are not declared.
func WriteMermaid(w io.Writer, g Graph) error {
	bw := bufio.NewWriter(w)
	ids := make(map[string]string, len(g.Nodes))
	fmt.Fprintln(bw, "flowchart LR")
	var undeclared []string
	for i, n := range g.Nodes {
		id := "n" + strconv.Itoa(i)
		ids[n.ID] = id
		label := mermaidLabel(n.Label)
		switch n.Kind {
		case KindGroup:
			fmt.Fprintf(bw, "  %s([%s])\n", id, label)
		case KindTeam:
			fmt.Fprintf(bw, "  %s{{%s}}\n", id, label)
		default:
			fmt.Fprintf(bw, "  %s[%s]\n", id, label)
		}
		if !n.Declared {
			undeclared = append(undeclared, id)
		}
	}
	for _, e := range g.Edges {
		from, to := ids[e.From], ids[e.To]
		if from == "" || to == "" {
			continue
		}
		arrow := "-->"
		if !e.Declared {
			arrow = "-.->"
		}
		fmt.Fprintf(bw, "  %s %s|%s| %s\n", from, arrow, e.Kind, to)
	}
	if len(undeclared) > 0 {
		fmt.Fprintln(bw, "  classDef undeclared stroke-dasharray: 5 5")
		fmt.Fprintf(bw, "  class %s undeclared\n", strings.Join(undeclared, ","))
	}
	return bw.Flush()
}
