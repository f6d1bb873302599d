package db

import (
	"encoding/binary"

	"github.com/jackc/pgx/v5/pgtype"
)

// The repositories pass a flag (is_archived, complete) as a Go bool, and
// both schemas store it as an integer, 0 or 1, as SQLite always has. pgx
// has no plan for a bool into a bigint: int8Codec adds one.

// int8Codec is pgx's bigint codec that also encodes bools, as 0 and 1.
type int8Codec struct{ pgtype.Int8Codec }

func (c int8Codec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(bool); ok {
		if format == pgtype.BinaryFormatCode {
			return boolBinaryInt8{}
		}
		return boolTextInt8{}
	}
	return c.Int8Codec.PlanEncode(m, oid, format, value)
}

type boolBinaryInt8 struct{}

func (boolBinaryInt8) Encode(value any, buf []byte) ([]byte, error) {
	var n uint64
	if value.(bool) {
		n = 1
	}
	return binary.BigEndian.AppendUint64(buf, n), nil
}

type boolTextInt8 struct{}

func (boolTextInt8) Encode(value any, buf []byte) ([]byte, error) {
	if value.(bool) {
		return append(buf, '1'), nil
	}
	return append(buf, '0'), nil
}

// registerTypes installs the codecs on one connection's type map.
func registerTypes(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "int8", OID: pgtype.Int8OID, Codec: int8Codec{}})
}
