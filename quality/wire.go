package quality

import (
	"encoding/binary"
)

// Reason says why a record could not be decoded. It is the reason label of
// meshwatch_quality_undecodable_total.
type Reason uint8

// Reasons a record is undecodable. ReasonOK means it was decoded.
const (
	ReasonOK Reason = iota
	ReasonNotJSON
	ReasonBadMagicByte
	ReasonUnknownSchemaID
	ReasonTruncated
	ReasonSchemaMismatch
	ReasonRegistryUnavailable
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonOK:                  "ok",
	ReasonNotJSON:             "not_json",
	ReasonBadMagicByte:        "bad_magic_byte",
	ReasonUnknownSchemaID:     "unknown_schema_id",
	ReasonTruncated:           "truncated",
	ReasonSchemaMismatch:      "schema_mismatch",
	ReasonRegistryUnavailable: "registry_unavailable",
}

// String returns the reason as its metric label.
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// wireHeaderLen is the Confluent wire format's header: magic byte 0 and a
// big-endian uint32 schema id.
const wireHeaderLen = 5

// maxIndexDepth bounds the message indexes of a Protobuf record: a schema
// never nests messages this deep, and the bound keeps a corrupt header from
// making the parser allocate.
const maxIndexDepth = 16

// ParseWire splits a record value in the Confluent wire format — magic byte
// 0, a 4-byte big-endian schema id, the encoded message — into the schema id
// and the message. It returns ReasonTruncated when b is shorter than the
// header and ReasonBadMagicByte when the first byte is not 0. It does not
// allocate.
func ParseWire(b []byte) (id uint32, payload []byte, r Reason) {
	if len(b) == 0 {
		return 0, nil, ReasonTruncated
	}
	if b[0] != 0 {
		return 0, nil, ReasonBadMagicByte
	}
	if len(b) < wireHeaderLen {
		return 0, nil, ReasonTruncated
	}
	return binary.BigEndian.Uint32(b[1:5]), b[wireHeaderLen:], ReasonOK
}

// ParseMessageIndexes reads the message indexes that follow the schema id of
// a Protobuf record: a zig-zag varint count, then that many zig-zag varint
// indexes into the .proto file's messages (the first is a top-level message,
// the next nested in it, …). A count of 0 stands for [0], the first message.
// The indexes are appended to dst[:0], so a caller that keeps dst does not
// allocate. It returns ReasonTruncated when a varint is cut short and
// ReasonSchemaMismatch for a negative count or index or more than 16
// indexes.
func ParseMessageIndexes(b []byte, dst []int) (idx []int, payload []byte, r Reason) {
	dst = dst[:0]
	n, k := binary.Varint(b)
	switch {
	case k == 0:
		return dst, nil, ReasonTruncated
	case k < 0:
		return dst, nil, ReasonSchemaMismatch // varint overflows 64 bits
	case n == 0:
		return append(dst, 0), b[k:], ReasonOK
	case n < 0 || n > maxIndexDepth:
		return dst, nil, ReasonSchemaMismatch
	}
	b = b[k:]
	for range n {
		v, k := binary.Varint(b)
		switch {
		case k == 0:
			return dst[:0], nil, ReasonTruncated
		case k < 0 || v < 0 || v > 1<<20:
			return dst[:0], nil, ReasonSchemaMismatch
		}
		dst = append(dst, int(v))
		b = b[k:]
	}
	return dst, b, ReasonOK
}
