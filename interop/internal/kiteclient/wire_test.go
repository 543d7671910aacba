package kiteclient

import (
	"encoding/hex"
	"strings"
	"testing"

	"kiteq-ts/interop/internal/kitepb"

	"google.golang.org/protobuf/proto"
)

// Frames from kiteq-spec.md §1.5 (worked hex examples).
func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "\n", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func frame(t *testing.T, op uint32, cmd uint8, m proto.Message) string {
	body, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(encodeFrame(packet{op, cmd, body}))
}

func TestSpecFrames(t *testing.T) {
	id := "0123456789abcdef0123456789abcdef"
	idHex := hex.EncodeToString([]byte(id))
	cases := []struct {
		name, want string
		got        string
	}{
		{"heartbeat", "00000001 01 0000 0000000000000000 00000006 0880e2cfaa06",
			frame(t, 1, CMD_HEARTBEAT, &kitepb.HeartBeat{Version: proto.Int64(1700000000)})},
		{"connmeta", "00000002020000000000000000000000000016 0a0a732d6d74732d74657374 1206313233343536 1800",
			frame(t, 2, CMD_CONN_META, &kitepb.ConnMeta{GroupId: proto.String("s-mts-test"),
				SecretKey: proto.String("123456"), WarmingupSec: proto.Int32(0)})},
		{"string message", "0000000712000000000000000000000000005c 0a53 0a20" + idHex +
			"12057472616465 1a087061792d73756363 208085d5aa06 2864 320c676f2d6b6974652d74657374 3801 4000 5080e2cfaa06 120568656c6c6f",
			frame(t, 7, CMD_STRING_MESSAGE, &kitepb.StringMessage{Header: &kitepb.Header{
				MessageId: proto.String(id), Topic: proto.String("trade"), MessageType: proto.String("pay-succ"),
				ExpiredTime: proto.Int64(1700086400), DeliverLimit: proto.Int32(100), GroupId: proto.String("go-kite-test"),
				Commit: proto.Bool(true), Fly: proto.Bool(false), CreateTime: proto.Int64(1700000000)},
				Body: proto.String("hello")})},
		{"deliver ack", "0000000905000000000000000000000000004 5 0a20" + idHex +
			"12057472616465 1a087061792d73756363 220c676f2d6b6974652d74657374 2801 3200",
			frame(t, 9, CMD_DELIVER_ACK, &kitepb.DeliverAck{MessageId: proto.String(id), Topic: proto.String("trade"),
				MessageType: proto.String("pay-succ"), GroupId: proto.String("go-kite-test"),
				Status: proto.Bool(true), Feedback: proto.String("")})},
	}
	for _, c := range cases {
		if want := hex.EncodeToString(unhex(t, c.want)); c.got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, want)
		}
	}
	// a header missing a required field must not marshal (the Go client refuses to send it)
	if _, err := proto.Marshal(&kitepb.Header{MessageId: proto.String(id)}); err == nil {
		t.Error("marshal of incomplete header succeeded")
	}
}
