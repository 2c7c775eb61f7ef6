package state

import (
	"context"
	"errors"
	"strings"
)

// Store is a small key-value store for state that must survive a restart.
// Keys are non-empty strings (by convention "<package>/<name>…"); values
// are opaque bytes. Implementations are safe for concurrent use.
type Store interface {
	// Get returns the value of key and whether it exists. A value the
	// store itself finds damaged (only Dir can: a file that is truncated,
	// fails its checksum or cannot be read) is set aside, logged once, and
	// reported with an error wrapping ErrCorrupt; the key then does not
	// exist. A caller starts without the value on ErrCorrupt and fails
	// only on other errors.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores value under key, atomically: a reader sees the old value or
	// the new, never a part.
	Put(ctx context.Context, key string, value []byte) error
	// PutMany stores several values; each is atomic, the batch is not.
	PutMany(ctx context.Context, entries map[string][]byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Keys returns the keys that start with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
	// SetAside moves the value of key out of the way, keeping it for
	// inspection, and logs one line with reason. A consumer calls it when
	// it cannot decode a value, so that the next start does not fail on it
	// again. Afterwards key does not exist.
	SetAside(ctx context.Context, key, reason string) error
}

// ErrInvalidKey is returned for an empty key or one with a NUL byte.
var ErrInvalidKey = errors.New("state: invalid key")

// ErrCorrupt is wrapped by the error of a Get whose value the store found
// damaged. The value was set aside (and logged) before Get returned, so
// the caller counts it as corrupt and starts without it: it is not a
// reason to stop. The error says which key, why, and where the value went.
var ErrCorrupt = errors.New("state: corrupt value set aside")

func checkKey(key string) error {
	if key == "" || strings.ContainsRune(key, 0) {
		return ErrInvalidKey
	}
	return nil
}

// asidePrefix starts the keys under which the Kafka store keeps values set
// aside; Keys never lists them unless asked for the prefix itself.
const asidePrefix = "__aside__/"
