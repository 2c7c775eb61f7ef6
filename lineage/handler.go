package lineage

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/meshwatch/meshwatch"
)

// DefaultDepth is how far around a product the API and the command look
// when a product is asked for without a depth.
const DefaultDepth = 2

// Select returns g, or with product set the part of g within depth edges of
// it (DefaultDepth when depth is nil). It fails for an unknown product, a
// negative depth, or a depth without a product.
func Select(g Graph, product string, depth *int) (Graph, error) {
	if product == "" {
		if depth != nil {
			return Graph{}, fmt.Errorf("depth needs a product: it counts edges from that product")
		}
		return g, nil
	}
	if _, ok := g.Node(ProductID(product)); !ok {
		var names []string
		for _, n := range g.Nodes {
			if n.Kind == KindProduct {
				names = append(names, n.Label)
			}
		}
		return Graph{}, fmt.Errorf("no product %s in the configuration%s", meshwatch.Quote(product), meshwatch.DidYouMean(product, names))
	}
	d := DefaultDepth
	if depth != nil {
		if *depth < 0 {
			return Graph{}, fmt.Errorf("depth must be >= 0, got %d", *depth)
		}
		d = *depth
	}
	return g.Around(product, d), nil
}

// Handler serves GET /api/v1/lineage: the graph of cfg with the groups
// observed returns (nil: declared only), built at each request, as JSON
// {"nodes":[…],"edges":[…]}. Query parameters: product (the part around
// that product) and depth (edges from it, default 2; only with product).
// A bad depth or an unknown product is 400 {"error":"…"}.
func Handler(cfg *meshwatch.Config, observed func(product string) []Observed) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var depth *int
		if s := q.Get("depth"); s != "" || q.Has("depth") {
			d, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("depth must be a whole number of edges, got %q", s))
				return
			}
			depth = &d
		}
		g, err := Select(Build(cfg, observed), q.Get("product"), depth)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = WriteJSON(w, g)
	})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Error string `json:"error"`
	}{msg})
}
