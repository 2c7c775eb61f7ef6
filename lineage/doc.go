// Package lineage draws the data mesh as a graph: who owns each data
// product, which consumer groups read it, which team each group belongs
// to, and which products feed which.
//
// # The graph
//
// Build makes it from a validated configuration and, optionally, the groups
// observed reading each product (command meshwatch takes them from the lag
// monitor: every group with committed offsets on a product's topics). It is
// pure and deterministic: nodes ordered by ID, edges by from, to and kind.
//
// Nodes, with IDs namespaced by kind:
//
//	product:NAME   every product of the configuration
//	group:NAME     every group declared under a product's consumers or observed
//	team:NAME      every owner, and every team that owns a product or a consumer group
//
// Edges:
//
//	team    owns            product   the product's owner
//	group   consumes        product   declared under consumers, or observed (declared: false)
//	group   member_of       team      the group's declared owner; none for meshwatch.UnknownOwner;
//	                                  inferred: an undeclared group whose ID matches owners.<team>.groups,
//	                                  or a member's client ID owners.<team>.clients
//	product feeds           product   the downstream product declares the upstream one under inputs
//	product suggested_feeds product   a group of the downstream product's owner consumes the upstream one, which it does not declare: a suggestion, never assumed;
//	                                  only for an owner of at most MaxSuggestOwned (3) products: beyond, which one the group feeds is a guess
//
// A group no product declares is a node with declared false: its
// product's owner sees who reads their data without having been asked.
// Graph.Around keeps the part within a number of edges of one product,
// edges followed either way.
//
// A group that no product declares an owner for belongs to the first team
// (by name) one of whose groups patterns (owners.<team>.groups, regular
// expressions over group IDs) matches its ID, or one of whose clients
// patterns (owners.<team>.clients) matches the client ID of a member
// holding its partitions (Observed.ClientIDs): its member_of edge has
// inferred true and declared false.
//
// # Who hears of a product
//
// Audiences lists the teams that depend on a product: the teams of the
// groups that consume it and the owners of the products it feeds (along
// feeds edges, transitively), other than its owner, with a Slack channel,
// subscribed (owners.<team>.subscribe, default true), unless the product
// says notify_consumers: false. Each Audience names the team's groups and
// products at stake. AudienceIndex holds every product's, computed once
// per graph. Package alert sends each audience its own copy of the
// product's incidents; package notice tells it of deprecations and
// schema changes.
//
// # Output
//
// Handler serves the graph as JSON (/api/v1/lineage, filtered by the
// product and depth query parameters); WriteDOT (Graphviz), WriteMermaid
// (a flowchart) and WriteJSON render it for command meshwatch lineage.
//
// # Metrics
//
// NewCollector exports the current graph, one series per edge, for a
// Grafana node graph:
//
//	meshwatch_lineage_node{id,title,kind}                    1 per node: its ID, name and kind
//	meshwatch_lineage_edge{id,from,to,kind}                  1 per edge; from and to are node IDs, id is from->to:kind
package lineage
