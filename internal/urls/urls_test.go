package urls

import "testing"

func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		s           string
		http, creds bool
	}{
		{"https://slack.com/api/", true, false},
		{"http://alertmanager:9093", true, false},
		{"https://user:pw@hooks.example.com/x", true, true},
		{"ftp://example.com", false, false},
		{"/relative/path", false, false},
		{"https://", false, false},
	} {
		if got := IsHTTP(tc.s); got != tc.http {
			t.Errorf("IsHTTP(%q) = %v", tc.s, got)
		}
		if got := HasCredentials(tc.s); got != tc.creds {
			t.Errorf("HasCredentials(%q) = %v", tc.s, got)
		}
	}
}
