package webauth

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/meshwatch/meshwatch"
)

// Token is one bearer token of http.api_token_file.
type Token struct {
	// Name names the token in logs and messages ("ci-bot"); a token given
	// alone is "api-token", or "api-token-N" for the one on line N when
	// the file holds several.
	Name  string
	value meshwatch.Secret
}

// Value returns the token, for a client that sends it.
func (t Token) Value() string { return t.value.Reveal() }

// MinTokenLength is the shortest token accepted: a guessable token is no
// protection.
const MinTokenLength = 16

// maxTokenFile caps the token file, as every secret file.
const maxTokenFile = 64 << 10

// ReadTokens reads a token file. Each line that is neither blank nor a
// comment (#) holds a token, alone or after a name and a space:
//
//	# who may write to the agent
//	ci-bot   9f3c0a…
//	alice    5b77e1…
//
// Its errors name the file and the line, never a token.
func ReadTokens(path string) ([]Token, error) {
	st, err := os.Stat(path)
	if err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("http.api_token_file %s: not a regular file", path)
	}
	var b []byte
	if err == nil {
		b, err = readLimited(path, maxTokenFile)
	}
	if err != nil {
		return nil, fmt.Errorf("http.api_token_file: %w", err)
	}
	ts, err := ParseTokens(string(b))
	if err != nil {
		return nil, fmt.Errorf("http.api_token_file %s: %w", path, err)
	}
	return ts, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("%s: larger than %d KiB; a token file holds a few tokens", path, limit>>10)
	}
	return b, err
}

// ParseTokens parses the content of a token file; see ReadTokens.
func ParseTokens(content string) ([]Token, error) {
	type line struct {
		n           int
		name, value string
	}
	var lines []line
	for i, l := range strings.Split(content, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		switch len(f) {
		case 1:
			lines = append(lines, line{n: i + 1, value: f[0]})
		case 2:
			lines = append(lines, line{n: i + 1, name: f[0], value: f[1]})
		default:
			return nil, fmt.Errorf("line %d: want a token, or a name and a token, separated by a space; got %d words", i+1, len(f))
		}
	}
	if len(lines) == 0 {
		return nil, ErrNoTokens
	}
	seen := map[string]int{}
	out := make([]Token, 0, len(lines))
	for _, l := range lines {
		if len(l.value) < MinTokenLength {
			return nil, fmt.Errorf("line %d: the token is %d characters long; use at least %d random ones (openssl rand -hex 32)", l.n, len(l.value), MinTokenLength)
		}
		name := l.name
		if name == "" {
			name = "api-token"
			if len(lines) > 1 {
				name = fmt.Sprintf("api-token-%d", l.n)
			}
		}
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("line %d: the name %q is taken by line %d; each token needs its own name", l.n, name, prev)
		}
		seen[name] = l.n
		out = append(out, Token{Name: name, value: meshwatch.Secret(l.value)})
	}
	return out, nil
}
