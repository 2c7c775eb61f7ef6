package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAPIJSONNotHTMLEscaped: the API writes "a > b && c", not
// "a \u003e b \u0026\u0026 c", in its answers and its errors.
func TestAPIJSONNotHTMLEscaped(t *testing.T) {
	const text = "total > 0 && currency in ['EUR'] <ok>"
	rec := httptest.NewRecorder()
	writeJSON(rec, map[string]string{"rule": text})
	rec2 := httptest.NewRecorder()
	writeAPIError(rec2, http.StatusBadRequest, text)
	for _, body := range []string{rec.Body.String(), rec2.Body.String()} {
		if !strings.Contains(body, text) || strings.Contains(body, `\u003e`) {
			t.Errorf("body %s: want %q as written", body, text)
		}
	}
}
