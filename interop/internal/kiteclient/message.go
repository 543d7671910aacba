package kiteclient

import (
	"crypto/rand"
	"encoding/hex"

	"kiteq-ts/interop/internal/kitepb"

	"google.golang.org/protobuf/proto"
)

// Command types (kiteq-spec §2.1).
const (
	CMD_HEARTBEAT         uint8 = 0x01
	CMD_CONN_META         uint8 = 0x02
	CMD_CONN_AUTH         uint8 = 0x03
	CMD_MESSAGE_STORE_ACK uint8 = 0x04
	CMD_DELIVER_ACK       uint8 = 0x05
	CMD_TX_ACK            uint8 = 0x06
	CMD_BYTES_MESSAGE     uint8 = 0x11
	CMD_STRING_MESSAGE    uint8 = 0x12
)

// Transaction states carried in TxACKPacket.status.
const (
	TX_UNKNOWN  int32 = 0
	TX_COMMIT   int32 = 1
	TX_ROLLBACK int32 = 2
)

// MessageId returns a fresh 32-character lowercase hex id (what the broker requires).
func MessageId() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// QMessage wraps a StringMessage or BytesMessage, like kiteq-common's protocol.QMessage.
type QMessage struct {
	msgType uint8
	pb      proto.Message
	header  *kitepb.Header
	// Body is string for string messages and []byte for bytes messages (after snappy decoding).
	Body interface{}
}

// NewQMessage wraps *kitepb.StringMessage or *kitepb.BytesMessage; it panics on anything else.
func NewQMessage(m proto.Message) *QMessage {
	switch v := m.(type) {
	case *kitepb.StringMessage:
		return &QMessage{msgType: CMD_STRING_MESSAGE, pb: v, header: v.GetHeader(), Body: v.GetBody()}
	case *kitepb.BytesMessage:
		return &QMessage{msgType: CMD_BYTES_MESSAGE, pb: v, header: v.GetHeader(), Body: v.GetBody()}
	default:
		panic("kiteclient: not a KiteQ message")
	}
}

func (m *QMessage) GetHeader() *kitepb.Header   { return m.header }
func (m *QMessage) GetMsgType() uint8           { return m.msgType }
func (m *QMessage) GetBody() interface{}        { return m.Body }
func (m *QMessage) GetPbMessage() proto.Message { return m.pb }
func (m *QMessage) IsString() bool              { return m.msgType == CMD_STRING_MESSAGE }

// TxResponse is what IListener.OnMessageCheck receives for a broker "Server Check".
type TxResponse struct {
	MessageId   string
	Topic       string
	MessageType string
	Header      *kitepb.Header
	status      int32
	feedback    string
}

func newTxResponse(h *kitepb.Header) *TxResponse {
	return &TxResponse{MessageId: h.GetMessageId(), Topic: h.GetTopic(),
		MessageType: h.GetMessageType(), Header: h}
}

// GetProperty returns a header property (the original client has an inverted check here
// that makes it always miss; this one works).
func (t *TxResponse) GetProperty(key string) (string, bool) {
	for _, e := range t.Header.GetProperties() {
		if e.GetKey() == key {
			return e.GetValue(), true
		}
	}
	return "", false
}

func (t *TxResponse) Commit()                { t.status, t.feedback = TX_COMMIT, "" }
func (t *TxResponse) Rollback(reason string) { t.status, t.feedback = TX_ROLLBACK, reason }
func (t *TxResponse) Unknown(reason string)  { t.status, t.feedback = TX_UNKNOWN, reason }

// IListener is the callback interface (same two callbacks as kiteq-client-go's IListener).
type IListener interface {
	// OnMessage returns true to acknowledge (DeliverAck status=true).
	OnMessage(msg *QMessage) bool
	// OnMessageCheck must call tx.Commit() or tx.Rollback(); neither leaves it unknown.
	OnMessageCheck(tx *TxResponse) error
}

// DoTransaction is the local transaction run by SendTx*Message after the store ack.
type DoTransaction func(message *QMessage) (bool, error)
