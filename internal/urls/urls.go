// Package urls checks URLs that come from the configuration.
package urls

import "net/url"

// IsHTTP reports whether s is an absolute http or https URL with a host.
func IsHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// HasCredentials reports whether the URL s holds credentials
// (user:password@): a URL in a config is no place for them.
func HasCredentials(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.User != nil
}
