package demo

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The records of each product. They are built by appending to byte slices,
// without fmt or encoding/json: the values are IDs, numbers and times that
// need no escaping. Every record gets a fresh Value, since franz-go owns it
// until the produce completes.

// rfc3339Milli is RFC 3339 with milliseconds, as services commonly write it.
const rfc3339Milli = "2006-01-02T15:04:05.000Z07:00"

var (
	currencies = []string{"EUR", "EUR", "EUR", "USD", "GBP"}
	methods    = []string{"card", "card", "card", "paypal", "apple_pay"}
	hubsEU     = []string{"AMS-1", "FRA-2", "MAD-1", "WAW-1"}
	hubsUS     = []string{"JFK-1", "ORD-3", "LAX-2", "DFW-1"}
)

// transactionSettled is a payments.transactions.settled event whose event
// time, in the x-event-time header and in settled_at, is 2–5 s before now:
// the settlement service publishes late.
func transactionSettled(rng *rand.Rand, now time.Time) *kgo.Record {
	delay := 2*time.Second + time.Duration(rng.Int64N(int64(3*time.Second)))
	at := now.Add(-delay).UTC().AppendFormat(nil, rfc3339Milli)
	orderID := appendID(nil, "ord-", rng)
	v := openObj(256).
		bytes("transaction_id", appendID(nil, "txn-", rng)).
		bytes("order_id", orderID).
		money("amount", 499+rng.Int64N(30000)).
		str("currency", pick(rng, currencies)).
		str("method", pick(rng, methods)).
		str("status", "settled").
		bytes("settled_at", at).
		close()
	return &kgo.Record{
		Topic:     TransactionsSettled,
		Key:       orderID,
		Value:     v,
		Timestamp: now,
		Headers:   []kgo.RecordHeader{{Key: "x-event-time", Value: at}},
	}
}

// ledgerEntry is a finance.ledger.entries line booked from a settled
// payment: its event time (header x-event-time) is the payment's, 2–5 s
// old, plus half a second of booking, so that it is as late as its input.
func ledgerEntry(rng *rand.Rand, now time.Time) *kgo.Record {
	delay := 2500*time.Millisecond + time.Duration(rng.Int64N(int64(3*time.Second)))
	at := now.Add(-delay).UTC().AppendFormat(nil, rfc3339Milli)
	txn := appendID(nil, "txn-", rng)
	v := openObj(192).
		bytes("entry_id", appendID(nil, "led-", rng)).
		bytes("transaction_id", txn).
		str("account", pick(rng, []string{"receivables", "cash", "fees"})).
		money("amount", 499+rng.Int64N(30000)).
		str("side", pick(rng, []string{"debit", "credit"})).
		bytes("booked_at", at).
		close()
	return &kgo.Record{
		Topic:     LedgerEntries,
		Key:       txn,
		Value:     v,
		Timestamp: now,
		Headers:   []kgo.RecordHeader{{Key: "x-event-time", Value: at}},
	}
}

// parcelScanned is a logistics.parcels.scanned event on the EU or the US
// topic; event.ts, the event time, is now in Unix milliseconds.
func parcelScanned(rng *rand.Rand, now time.Time) *kgo.Record {
	topic, hubs := parcelsScannedEU, hubsEU
	if rng.IntN(3) == 0 {
		topic, hubs = parcelsScannedUS, hubsUS
	}
	id := appendID(nil, "par-", rng)
	v := openObj(224).
		open("event").
		str("type", "parcel.scanned").
		num("ts", now.UnixMilli()).
		end().
		bytes("parcel_id", id).
		str("hub", pick(rng, hubs)).
		bytes("scanner_id", appendID(nil, "scn-", rng)[:10]).
		num("weight_g", 50+rng.Int64N(20000)).
		close()
	return &kgo.Record{Topic: topic, Key: id, Value: v, Timestamp: now}
}

// cartUpdated is a checkout.carts.updated event; its event time is the
// record timestamp, now.
func cartUpdated(rng *rand.Rand, now time.Time) *kgo.Record {
	id := appendID(nil, "cart-", rng)
	items := rng.IntN(9)
	v := openObj(192).
		bytes("cart_id", id).
		bytes("customer_id", customerID(rng)).
		num("items", int64(items)).
		money("cart_total", int64(items)*(499+rng.Int64N(5000))).
		str("currency", pick(rng, currencies)).
		close()
	return &kgo.Record{Topic: CartsUpdated, Key: id, Value: v, Timestamp: now}
}

func pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }

func customerID(rng *rand.Rand) []byte {
	return strconv.AppendInt([]byte("cus-"), 100000+rng.Int64N(900000), 10)
}

// appendID appends prefix and 12 random hex digits to dst.
func appendID(dst []byte, prefix string, rng *rand.Rand) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, prefix...)
	v := rng.Uint64()
	for range 12 {
		dst = append(dst, hex[v&0xf])
		v >>= 4
	}
	return dst
}

// obj appends a JSON object; the methods add members in order.
type obj []byte

func openObj(capacity int) obj { return append(make(obj, 0, capacity), '{') }

func (o obj) key(k string) obj {
	if o[len(o)-1] != '{' {
		o = append(o, ',')
	}
	o = append(o, '"')
	o = append(o, k...)
	return append(o, '"', ':')
}

// str adds a string member; v must need no JSON escaping.
func (o obj) str(k, v string) obj {
	o = append(o.key(k), '"')
	o = append(o, v...)
	return append(o, '"')
}

// bytes is str for a value held in a byte slice.
func (o obj) bytes(k string, v []byte) obj {
	o = append(o.key(k), '"')
	o = append(o, v...)
	return append(o, '"')
}

func (o obj) num(k string, v int64) obj { return strconv.AppendInt(o.key(k), v, 10) }

// money adds cents as a decimal amount with two places.
func (o obj) money(k string, cents int64) obj {
	o = strconv.AppendInt(o.key(k), cents/100, 10)
	o = append(o, '.', byte('0'+cents%100/10), byte('0'+cents%10))
	return o
}

// open starts a nested object member; end closes it.
func (o obj) open(k string) obj { return append(o.key(k), '{') }
func (o obj) end() obj          { return append(o, '}') }
func (o obj) close() []byte     { return append(o, '}') }
