package main

import (
	"strings"

	"kiteq-ts/interop/internal/kitepb"

	"google.golang.org/protobuf/proto"
)

// Body rule (README "Message bodies"), shared by every producer in the interop tests:
//   string body = "hello-" + messageId, then padded with '.' up to bodySize (never cut);
//   bytes body  = the ASCII messageId repeated and cut to exactly bodySize bytes.

func stringBody(id string, size int) string {
	s := "hello-" + id
	if len(s) < size {
		s += strings.Repeat(".", size-len(s))
	}
	return s
}

func bytesBody(id string, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = id[i%len(id)]
	}
	return b
}

// verifyString checks a string body against the rule; size <= 0 skips the length check.
func verifyString(id, body string, size int) bool {
	p := "hello-" + id
	if !strings.HasPrefix(body, p) || strings.Trim(body[len(p):], ".") != "" {
		return false
	}
	return size <= 0 || len(body) == max(size, len(p))
}

// verifyBytes checks a bytes body against the rule; size <= 0 skips the length check.
func verifyBytes(id string, body []byte, size int) bool {
	if len(id) == 0 {
		return false
	}
	for i, c := range body {
		if c != id[i%len(id)] {
			return false
		}
	}
	return size <= 0 || len(body) == size
}

// header builds a Header with every required field set.
func header(id, topic, msgType string, commit bool, expiredTime int64, props propFlags) *kitepb.Header {
	h := &kitepb.Header{
		MessageId:    proto.String(id),
		Topic:        proto.String(topic),
		MessageType:  proto.String(msgType),
		ExpiredTime:  proto.Int64(expiredTime),
		DeliverLimit: proto.Int32(100),
		GroupId:      proto.String(""), // overwritten by the client with its group id
		Commit:       proto.Bool(commit),
		Fly:          proto.Bool(false),
	}
	for _, p := range props {
		h.Properties = append(h.Properties, &kitepb.Entry{Key: proto.String(p.k), Value: proto.String(p.v)})
	}
	return h
}
