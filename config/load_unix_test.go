//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshwatch/meshwatch"
)

// returns runs f and fails the test if f has not returned by a deadline
// far beyond what it needs: the files under test would block it for ever,
// not for a while, so the deadline says nothing of speed.
func returns(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	select {
	case <-done:
	case <-deadline.C:
		t.Fatal("still blocked after a minute: the file was opened or read as if it were a regular file")
	}
}

func mkfifo(t *testing.T, name string) string {
	t.Helper()
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return name
}

// sparse makes a regular file of size bytes that takes no disk space.
func sparse(t *testing.T, name string, size int64) string {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestLoadFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want string // the error's end
	}{
		{"fifo", mkfifo(t, filepath.Join(dir, "fifo.yaml")), "it is a named pipe (FIFO), not a regular file"},
		{"directory", dir, "it is a directory, not a regular file"},
		{"device", "/dev/zero", "it is a character device, not a regular file"},
		{"too large", sparse(t, filepath.Join(dir, "huge.yaml"), maxConfigFile+1),
			"it is larger than 16 MiB; a configuration is far smaller; is it the right file?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skip(err)
			}
			var (
				ps  meshwatch.Problems
				err error
			)
			returns(t, func() { _, ps, err = LoadFile(tt.path) })
			want := `load config: cannot read "` + tt.path + `": ` + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("LoadFile error:\n%v\nwant:\n%s", err, want)
			}
			if ps != nil {
				t.Errorf("problems %v, want none", ps)
			}
		})
	}
	t.Run("at the limit", func(t *testing.T) {
		// A file of exactly the limit is read: the document of NUL bytes
		// is then a YAML error, not a size error.
		_, _, err := LoadFile(sparse(t, filepath.Join(dir, "limit.yaml"), maxConfigFile))
		if err == nil || strings.Contains(err.Error(), "larger than") {
			t.Errorf("LoadFile error = %v, want a YAML error", err)
		}
	})
}

func TestLoadSecretFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		file string
		want string
	}{
		{"fifo", mkfifo(t, filepath.Join(dir, "password")), "it is a named pipe (FIFO), not a regular file"},
		{"device", "/dev/zero", "it is a character device, not a regular file"},
		{"too large", sparse(t, filepath.Join(dir, "big"), maxSecretFile+1), "it is larger than 64 KiB; a *_file holds the secret alone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.file); err != nil {
				t.Skip(err)
			}
			cfg := "cluster:\n  brokers: [\"k:9092\"]\n  sasl: {mechanism: PLAIN, username: u, password_file: " + tt.file + "}\n" +
				"products: [{name: d.e.f, domain: d, owner: o, topics: [t]}]\nowners: {o: {}}\n"
			var err error
			returns(t, func() { _, _, err = Load(filepath.Join(dir, "c.yaml"), []byte(cfg), nil) })
			want := filepath.Join(dir, "c.yaml") + `:3:56: cluster.sasl.password_file: cannot read "` + tt.file + `": ` + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("Load error:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}

func TestLoadContractNotRegular(t *testing.T) {
	dir := t.TempDir()
	// A FIFO named like a contract inside a contracts directory is found by
	// the walk and must not block the read.
	contracts := filepath.Join(dir, "contracts")
	if err := os.Mkdir(contracts, 0o700); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, filepath.Join(contracts, "orders.yaml"))
	big := sparse(t, filepath.Join(dir, "big.yaml"), 4<<20+1) // package odcs reads 4 MiB of a contract
	cfg := "cluster: {brokers: [\"k:9092\"]}\ncontracts: [contracts, big.yaml]\n"
	var err error
	returns(t, func() { _, _, err = Load(filepath.Join(dir, "c.yaml"), []byte(cfg), nil) })
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		// quote shortens the long path of the FIFO.
		`contracts[0]: cannot read "` + dir,
		`: it is a named pipe (FIFO), not a regular file`,
		`contracts[1]: cannot read "` + big + `": it is larger than 4 MiB; a data contract is far smaller; is it the right file?`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error lacks %q:\n%v", want, err)
		}
	}
}
