package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/meshwatch/meshwatch/config"
	"github.com/meshwatch/meshwatch/lag"
	"github.com/meshwatch/meshwatch/lineage"
)

// cmdLineage writes the lineage graph of a configuration: declared edges
// only, from the file, without Kafka or secrets.
func cmdLineage(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("lineage", `meshwatch lineage -config FILE [-product P] [-depth N] [-format dot|mermaid|json] [-out FILE]

Writes the lineage of the data products that FILE declares, for docs and
reviews: products, consumer groups and teams (owners) as nodes; edges
"team owns product", "group consumes product" (consumers:), "group
member_of team" (the consumer's owner), "product feeds product" (a
product's inputs:) and "suggested_feeds", dashed: a group of a product's
owner reads another product that it does not declare among its inputs.
Review a suggestion; it is never assumed.

It reads the file only, like meshwatch validate: no Kafka, no secret. The
groups a running agent sees reading a product without being declared are on
its /api/v1/lineage, not here.

-product keeps the part of the graph within -depth edges (default 2) of that
product, edges followed either way. -format dot is Graphviz (dot -Tsvg
lineage.dot > lineage.svg), mermaid a flowchart for Markdown, json what
/api/v1/lineage serves.`, stderr)
	path := fs.String("config", "config.yaml", "config file")
	product := fs.String("product", "", "only the part of the graph around this product")
	depth := fs.Int("depth", lineage.DefaultDepth, "with -product: how many edges from it")
	format := fs.String("format", lineage.FormatDOT, "output format: dot, mermaid or json")
	out := fs.String("out", "", "write to this file instead of stdout")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if !slices.Contains(lineage.Formats, *format) {
		fmt.Fprintf(stderr, "meshwatch lineage: -format must be dot, mermaid or json, got %q\n", *format)
		return exitUsage
	}
	var d *int
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "depth" {
			d = depth
		}
	})
	set := loadSettingsWith(*path, config.Options{Offline: true}, stderr)
	if set == nil {
		return exitFailed
	}
	g, err := lineage.Select(lineage.Build(set.Config, nil), *product, d)
	if err != nil {
		fmt.Fprintf(stderr, "meshwatch lineage: %v\n", err)
		return exitUsage
	}
	var b bytes.Buffer
	if err := lineage.Write(&b, g, *format); err != nil {
		fmt.Fprintf(stderr, "meshwatch lineage: %v\n", err)
		return exitFailed
	}
	if *out == "" {
		if _, err := stdout.Write(b.Bytes()); err != nil {
			fmt.Fprintf(stderr, "meshwatch lineage: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "meshwatch lineage: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// lineageObserved returns, for lineage.Build, the groups that the current
// core's lag monitor saw with committed offsets on a product's topics at
// its last pass; none while this agent has no core (sharding) or no pass.
func (a *App) lineageObserved(product string) []lineage.Observed {
	c := a.cur.Load()
	if c == nil || c.lag == nil {
		return nil
	}
	pl, ok := c.lag.Snapshot(product)
	if !ok {
		return nil
	}
	return observedGroups(pl)
}

// observedGroups are the groups of a lag snapshot that read the product: a
// declared consumer that never committed (NoData) is not observed.
func observedGroups(pl lag.ProductLag) []lineage.Observed {
	var out []lineage.Observed
	for _, g := range pl.Groups {
		if g.NoData {
			continue
		}
		o := lineage.Observed{Group: g.Group, Type: g.Type}
		for _, p := range g.Partitions {
			if p.ClientID != "" && !slices.Contains(o.ClientIDs, p.ClientID) {
				o.ClientIDs = append(o.ClientIDs, p.ClientID)
			}
		}
		out = append(out, o)
	}
	return out
}

// audiences returns the teams that depend on product, from the lineage
// graph (its index rebuilt at most once a lag interval): the alert manager gives
// each its own copy of the product's incidents.
func (a *App) audiences(product string) []lineage.Audience {
	return a.audienceIndex()[product]
}
