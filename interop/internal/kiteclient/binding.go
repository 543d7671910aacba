package kiteclient

import (
	"encoding/json"
	"regexp"
	"strings"
)

// BindType mirrors registry.BindType of kiteq-common (numeric in the ZooKeeper JSON).
type BindType uint8

const (
	BIND_DIRECT BindType = 0
	BIND_REGX   BindType = 1
	BIND_FANOUT BindType = 2
)

// BIND_VERSION is the constant "version" written into every binding.
const BIND_VERSION = "1.0.0"

// TypeOfBind maps a file-registry bindType string (case-insensitive) to a BindType;
// anything unknown is direct, as in kiteq-common.
func TypeOfBind(s string) BindType {
	switch strings.ToLower(s) {
	case "regx":
		return BIND_REGX
	case "fanout":
		return BIND_FANOUT
	default:
		return BIND_DIRECT
	}
}

// Binding has the same JSON shape (field names and order) as kiteq-common's registry.Binding.
type Binding struct {
	GroupId     string   `json:"groupId"`
	Topic       string   `json:"topic"`
	MessageType string   `json:"messageType"`
	BindType    BindType `json:"bindType"`
	Version     string   `json:"version"`
	Watermark   int32    `json:"watermark"`
	Persistent  bool     `json:"persistent"`
}

// Matches applies the KiteQ rule: fanout always, regx = unanchored RE2 match on the
// message type, direct = topic and message type equal.
func (b *Binding) Matches(topic, messageType string) bool {
	switch b.BindType {
	case BIND_FANOUT:
		return true
	case BIND_REGX:
		ok, err := regexp.MatchString(b.MessageType, messageType)
		return err == nil && ok
	default:
		return b.Topic == topic && b.MessageType == messageType
	}
}

func newBinding(groupId, topic, messageType string, t BindType, watermark int32, persistent bool) *Binding {
	return &Binding{GroupId: groupId, Topic: topic, MessageType: messageType, BindType: t,
		Version: BIND_VERSION, Watermark: watermark, Persistent: persistent}
}

func Bind_Direct(groupId, topic, messageType string, watermark int32, persistent bool) *Binding {
	return newBinding(groupId, topic, messageType, BIND_DIRECT, watermark, persistent)
}

func Bind_Regx(groupId, topic, messageTypeRegex string, watermark int32, persistent bool) *Binding {
	return newBinding(groupId, topic, messageTypeRegex, BIND_REGX, watermark, persistent)
}

func Bind_Fanout(groupId, topic string, watermark int32, persistent bool) *Binding {
	return newBinding(groupId, topic, "*", BIND_FANOUT, watermark, persistent)
}

// MarshalBinds produces the JSON array stored at /kiteq/sub/{topic}/{groupId}-bind.
func MarshalBinds(b []*Binding) ([]byte, error) { return json.Marshal(b) }
