// Package webauth decides who may change the agent's state over HTTP.
//
// TLS, client certificates, basic authentication of every request and
// extra response headers are the Prometheus exporter-toolkit's
// (github.com/prometheus/exporter-toolkit/web), served from the web
// configuration file that Prometheus, node_exporter and Alertmanager read.
// The Guard sits inside it, in front of every handler, and adds what the
// toolkit does not know: writes. A request that changes state (any method
// but GET, HEAD and OPTIONS, on any path, so that an endpoint added later is
// covered without a change here) needs an authenticated caller:
//
//   - a user of the web configuration file's basic_auth_users, whose
//     password the Guard verifies again against its bcrypt hash (the file
//     may change between the toolkit's read and the Guard's), or
//   - a bearer token of http.api_token_file, compared in constant time.
//
// With neither configured, writes answer 403 with a message that says how
// to enable them; with one configured, a write without valid credentials
// answers 401. Reads stay open unless the web configuration closes them.
// Both files are read again at each write, so that a rotated token or a
// changed password takes effect without a restart.
//
// The Guard also caps every write's body, sets X-Content-Type-Options:
// nosniff on every response, and puts the Caller (user or token name, and
// remote address, never a credential) in the request's context, where the
// handlers find it to log and announce who did what.
package webauth
