package webauth

import (
	"context"
	"net/http"
)

// Ways a caller proved who it is.
const (
	MethodBasic = "basic" // a basic_auth_users user of the web configuration file
	MethodToken = "token" // a bearer token of http.api_token_file
)

// Caller is who made a request, as the Guard established it: the
// basic-auth user or the token's name, and the address the request came
// from. It never holds a password or a token.
type Caller struct {
	Name   string `json:"name,omitempty"`
	Method string `json:"method,omitempty"` // MethodBasic, MethodToken, or "" for an anonymous read
	Remote string `json:"remote,omitempty"` // the connection's address (host:port), not X-Forwarded-For
}

// Authenticated reports whether the caller proved who it is.
func (c Caller) Authenticated() bool { return c.Method != "" }

// String is how logs and messages name the caller: "user alice",
// "token ci-bot", or "anonymous".
func (c Caller) String() string {
	switch c.Method {
	case MethodBasic:
		return "user " + c.Name
	case MethodToken:
		return "token " + c.Name
	}
	return "anonymous"
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller the Guard put in ctx. Without a Guard (a
// handler served on its own, in a test), it is an anonymous caller with no
// address.
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// RequestCaller returns the caller of r: the Guard's, or an anonymous one
// at r's remote address.
func RequestCaller(r *http.Request) Caller {
	c, ok := r.Context().Value(callerKey{}).(Caller)
	if !ok {
		c.Remote = r.RemoteAddr
	}
	return c
}
