package quality

import (
	"errors"
	"io"
	"math/big"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
)

// avroConfig bounds what one record may make the decoder allocate: a corrupt
// length prefix must not become a gigabyte slice.
var avroConfig = avro.Config{
	MaxByteSliceSize:  1 << 20,
	MaxSliceAllocSize: 1 << 20,
}.Freeze()

var avroReaders = sync.Pool{New: func() any {
	return avro.NewReader(nil, 0, avro.WithReaderConfig(avroConfig))
}}

// DecodeAvro decodes an Avro binary value written with schema into the form
// CEL rules read: a record becomes a map[string]any of its fields; a union
// its branch's value (null as nil); int and long int64; float and double
// float64; enum its symbol; bytes and fixed []byte; timestamp-millis/micros
// and date time.Time; decimal float64. It returns ReasonTruncated when the
// value ends early and ReasonSchemaMismatch when the bytes do not fit the
// schema, bytes are left over, or a length exceeds 1 MiB. It is safe for
// concurrent use.
func DecodeAvro(schema avro.Schema, b []byte) (any, Reason) {
	r := avroReaders.Get().(*avro.Reader)
	defer func() {
		r.Reset(nil)
		r.Error = nil
		avroReaders.Put(r)
	}()
	r.Reset(b)
	r.Error = nil
	v := readAvro(r, schema, 0)
	if r.Error != nil {
		if errors.Is(r.Error, io.EOF) || errors.Is(r.Error, io.ErrUnexpectedEOF) {
			return nil, ReasonTruncated
		}
		return nil, ReasonSchemaMismatch
	}
	// Peek sets io.EOF when nothing is left; a byte left over means the
	// writer's schema was not this one.
	r.Peek()
	if r.Error == nil {
		return nil, ReasonSchemaMismatch
	}
	r.Error = nil
	return v, ReasonOK
}

// maxAvroDepth bounds the nesting of recursive schemas, which a corrupt
// value could otherwise make unbounded.
const maxAvroDepth = 64

func readAvro(r *avro.Reader, schema avro.Schema, depth int) any {
	if r.Error != nil {
		return nil
	}
	if depth > maxAvroDepth {
		r.ReportError("decode", "nested too deep")
		return nil
	}
	var logical avro.LogicalType
	if ls, ok := schema.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		logical = ls.Logical().Type()
	}
	switch schema.Type() {
	case avro.Null:
		return nil
	case avro.Boolean:
		return r.ReadBool()
	case avro.Int:
		n := r.ReadInt()
		if logical == avro.Date {
			return time.Unix(int64(n)*86400, 0).UTC()
		}
		return int64(n)
	case avro.Long:
		n := r.ReadLong()
		switch logical {
		case avro.TimestampMillis:
			return time.UnixMilli(n).UTC()
		case avro.TimestampMicros:
			return time.UnixMicro(n).UTC()
		}
		return n
	case avro.Float:
		return float64(r.ReadFloat())
	case avro.Double:
		return r.ReadDouble()
	case avro.String:
		return r.ReadString()
	case avro.Bytes:
		b := r.ReadBytes()
		if logical == avro.Decimal {
			return decimal(b, schema.(avro.LogicalTypeSchema).Logical().(*avro.DecimalLogicalSchema).Scale())
		}
		return b
	case avro.Fixed:
		fs := schema.(*avro.FixedSchema)
		b := make([]byte, fs.Size())
		r.Read(b)
		if logical == avro.Decimal {
			return decimal(b, fs.Logical().(*avro.DecimalLogicalSchema).Scale())
		}
		return b
	case avro.Enum:
		symbols := schema.(*avro.EnumSchema).Symbols()
		i := int(r.ReadInt())
		if i < 0 || i >= len(symbols) {
			r.ReportError("decode", "enum index out of range")
			return nil
		}
		return symbols[i]
	case avro.Record:
		fields := schema.(*avro.RecordSchema).Fields()
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			m[f.Name()] = readAvro(r, f.Type(), depth+1)
		}
		return m
	case avro.Ref:
		return readAvro(r, schema.(*avro.RefSchema).Schema(), depth+1)
	case avro.Array:
		items := schema.(*avro.ArraySchema).Items()
		out := []any{}
		for r.Error == nil {
			n, _ := r.ReadBlockHeader()
			if n == 0 || r.Error != nil {
				break
			}
			if n < 0 || n > 1<<20 {
				r.ReportError("decode", "array block too long")
				break
			}
			for range n {
				out = append(out, readAvro(r, items, depth+1))
				if r.Error != nil {
					break
				}
			}
		}
		return out
	case avro.Map:
		values := schema.(*avro.MapSchema).Values()
		out := map[string]any{}
		for r.Error == nil {
			n, _ := r.ReadBlockHeader()
			if n == 0 || r.Error != nil {
				break
			}
			if n < 0 || n > 1<<20 {
				r.ReportError("decode", "map block too long")
				break
			}
			for range n {
				k := r.ReadString()
				out[k] = readAvro(r, values, depth+1)
				if r.Error != nil {
					break
				}
			}
		}
		return out
	case avro.Union:
		types := schema.(*avro.UnionSchema).Types()
		i := r.ReadLong()
		if r.Error != nil {
			return nil
		}
		if i < 0 || i >= int64(len(types)) {
			r.ReportError("decode", "union index out of range")
			return nil
		}
		return readAvro(r, types[i], depth+1)
	}
	r.ReportError("decode", "unsupported schema type")
	return nil
}

func decimal(b []byte, scale int) float64 {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 { // two's complement
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	f, _ := new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)).Float64()
	return f
}
