package odcs

import (
	"fmt"
	"net"
	"strings"

	"github.com/meshwatch/meshwatch"
)

// kafkaServer is a server of type kafka of a contract.
type kafkaServer struct {
	path    string // servers[i]
	host    string // as written
	brokers []endpoint
}

// endpoint is a broker's address; port "" matches any port.
type endpoint struct{ host, port string }

// CheckServers compares the contract's kafka servers with brokers, the
// cluster's (host:port): a server none of whose hosts is a broker is
// reported as a warning at its host, since meshwatch reads the product's
// topics from the cluster of the configuration, not from the server the
// contract names. Hosts compare without case; a host written without a
// port matches the broker's whatever its port. Without brokers, or without
// kafka servers, there is nothing to compare.
func (c *Contract) CheckServers(brokers []string) meshwatch.Problems {
	if len(brokers) == 0 || len(c.servers) == 0 {
		return nil
	}
	var cluster []endpoint
	for _, b := range brokers {
		host, port, err := net.SplitHostPort(strings.TrimSpace(b))
		if err != nil {
			continue // the loader reports a broker that is not host:port
		}
		cluster = append(cluster, endpoint{host: strings.ToLower(host), port: port})
	}
	if len(cluster) == 0 {
		return nil // no broker to compare with (an unset ${VAR}, say)
	}
	matches := func(s kafkaServer) bool {
		for _, e := range s.brokers {
			for _, b := range cluster {
				if e.host == b.host && (e.port == "" || e.port == b.port) {
					return true
				}
			}
		}
		return false
	}
	match := ""
	for _, s := range c.servers {
		if matches(s) {
			match = s.path
			break
		}
	}
	var ps meshwatch.Problems
	for _, s := range c.servers {
		if matches(s) {
			continue
		}
		path := meshwatch.JoinPath(s.path, "host")
		msg := fmt.Sprintf("kafka server %s is not among cluster.brokers (%s): meshwatch reads the product's topics from cluster.brokers", meshwatch.Quote(s.host), strings.Join(brokers, ", "))
		if match != "" {
			msg += fmt.Sprintf(", which %s names", match)
		} else {
			msg += "; is the contract about another cluster?"
		}
		ps = append(ps, meshwatch.Problem{Pos: c.position(path), Path: path, Msg: msg, Warning: true})
	}
	return ps
}

// position returns where the ODCS path src, or its nearest enclosing
// value, is in the contract.
func (c *Contract) position(src string) meshwatch.Position {
	for {
		if pos, ok := c.pos[src]; ok {
			return pos
		}
		if src == "" {
			return meshwatch.Position{File: c.File}
		}
		src = meshwatch.ParentPath(src)
	}
}
