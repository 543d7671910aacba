// Package kiteclient is a KiteQ client written from the protocol description in
// shared/reference/kiteq-spec.md. Its API mirrors github.com/blackbeans/kiteq-client-go
// (NewKiteQClient, SetTopics, SetBindings, SetListener, Start, Send*, SendTx*, Destroy)
// so that the harness can be switched to the real client by changing imports. It is NOT
// the real client: that module is not obtainable from the Go module proxy here.
package kiteclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"kiteq-ts/interop/internal/kitepb"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/proto"
)

var verbose = os.Getenv("KITEQ_INTEROP_VERBOSE") != ""

func logf(format string, a ...interface{}) { log.Printf("kiteclient: "+format, a...) }

// Timings (from the original where it matters; the reconnect interval is shortened from
// 30 s × 2^k so that tests restarting a broker recover quickly).
var (
	HandshakeTimeout  = 5 * time.Second
	StoreAckTimeout   = 3 * time.Second
	HeartbeatPeriod   = 10 * time.Second
	HeartbeatTimeout  = 5 * time.Second
	ReconnectInterval = 2 * time.Second
	DialTimeout       = 3 * time.Second
)

// KiteQClient publishes and/or subscribes through one or more brokers.
type KiteQClient struct {
	ctx         context.Context
	cancel      context.CancelFunc
	registryUri string
	groupId     string
	secretKey   string
	warmupSec   int32
	topics      []string
	binds       []*Binding
	listener    IListener
	reg         registry
	opaques     atomic.Uint32

	mu           sync.RWMutex
	topicToAddrs map[string][]string
	conns        map[string]*conn // address -> live (or last) connection; nil while first dialled
	// first dials under way, closed when each ends: Start waits for those begun by a registry
	// watch too, which it would otherwise count as no connection
	dialing map[string]chan struct{}

	inflight atomic.Int64 // in-flight listener callbacks
	sem      chan struct{}
}

// NewKiteQClient has the modern signature of kiteq-client-go.
func NewKiteQClient(parent context.Context, registryUri, groupId, secretKey string) *KiteQClient {
	return NewKiteQClientWithWarmup(parent, registryUri, groupId, secretKey, 0)
}

func NewKiteQClientWithWarmup(parent context.Context, registryUri, groupId, secretKey string, warmingupSec int) *KiteQClient {
	ctx, cancel := context.WithCancel(parent)
	return &KiteQClient{ctx: ctx, cancel: cancel, registryUri: registryUri, groupId: groupId,
		secretKey: secretKey, warmupSec: int32(warmingupSec), topicToAddrs: map[string][]string{},
		conns: map[string]*conn{}, dialing: map[string]chan struct{}{}, sem: make(chan struct{}, 50), listener: defaultListener{}}
}

type defaultListener struct{}

func (defaultListener) OnMessage(*QMessage) bool { return false }
func (defaultListener) OnMessageCheck(tx *TxResponse) error {
	tx.Commit()
	return nil
}

func (c *KiteQClient) SetListener(l IListener)   { c.listener = l }
func (c *KiteQClient) GetListener() IListener    { return c.listener }
func (c *KiteQClient) SetTopics(topics []string) { c.topics = append(c.topics, topics...) }

// SetBindings overwrites each binding's GroupId with the client's group id.
func (c *KiteQClient) SetBindings(binds []*Binding) {
	for _, b := range binds {
		b.GroupId = c.groupId
	}
	c.binds = binds
}

// Start publishes topics, connects to every broker serving a topic and publishes the
// bindings. Unlike the original (which logs and carries on) it returns an error when no
// broker connection could be established.
func (c *KiteQClient) Start() error {
	reg, err := newRegistry(c.registryUri)
	if err != nil {
		return err
	}
	c.reg = reg
	host, _ := os.Hostname()
	if err := reg.PublishTopics(c.topics, c.groupId, host); err != nil {
		return err
	}
	for _, b := range c.binds {
		if !containsString(c.topics, b.Topic) {
			c.topics = append(c.topics, b.Topic)
		}
	}
	for _, t := range c.topics {
		hosts, err := reg.GetQServerAndWatch(t, c.onQServerChanged)
		if err != nil {
			return fmt.Errorf("list brokers for topic %s: %w", t, err)
		}
		c.onQServerChanged(t, hosts)
	}
	c.mu.RLock()
	var dialing []chan struct{}
	for _, done := range c.dialing {
		dialing = append(dialing, done)
	}
	c.mu.RUnlock()
	for _, done := range dialing {
		<-done // each dial ends within DialTimeout + HandshakeTimeout
	}
	c.mu.RLock()
	live := 0
	for _, k := range c.conns {
		if k != nil && !k.closed.Load() {
			live++
		}
	}
	c.mu.RUnlock()
	if live == 0 {
		return fmt.Errorf("no broker connection for topics %v (registry %s)", c.topics, c.registryUri)
	}
	if len(c.binds) > 0 {
		if err := reg.PublishBindings(c.groupId, c.binds); err != nil {
			return err
		}
	}
	go c.heartbeatLoop()
	go c.reconnectLoop()
	return nil
}

func (c *KiteQClient) onQServerChanged(topic string, hosts []string) {
	c.mu.Lock()
	c.topicToAddrs[topic] = hosts
	var toDial []string
	for _, h := range hosts {
		if _, ok := c.conns[h]; !ok {
			c.conns[h] = nil
			c.dialing[h] = make(chan struct{})
			toDial = append(toDial, h)
		}
	}
	c.mu.Unlock()
	for _, h := range toDial {
		if err := c.connect(h); err != nil {
			logf("connect %s: %v", h, err)
		}
		c.mu.Lock()
		close(c.dialing[h])
		delete(c.dialing, h)
		c.mu.Unlock()
	}
}

func (c *KiteQClient) connect(addr string) error {
	k, err := dial(addr, DialTimeout, &c.opaques, c.onRequest)
	if err != nil {
		return err
	}
	if err := c.handshake(k); err != nil {
		k.close()
		return err
	}
	c.mu.Lock()
	c.conns[addr] = k
	c.mu.Unlock()
	logf("connected to %s as group %s", addr, c.groupId)
	return nil
}

func (c *KiteQClient) handshake(k *conn) error {
	meta := &kitepb.ConnMeta{GroupId: proto.String(c.groupId), SecretKey: proto.String(c.secretKey),
		WarmingupSec: proto.Int32(c.warmupSec)}
	body, err := proto.Marshal(meta)
	if err != nil {
		return err
	}
	var lastErr error
	for i := 0; i < 3; i++ {
		p, err := k.request(CMD_CONN_META, body, HandshakeTimeout)
		if err != nil {
			lastErr = err
			if errors.Is(err, errClosed) {
				break
			}
			time.Sleep(2 * time.Second)
			continue
		}
		if p.cmdType != CMD_CONN_AUTH {
			return fmt.Errorf("handshake: unexpected response cmd 0x%02x", p.cmdType)
		}
		var ack kitepb.ConnAuthAck
		if err := proto.Unmarshal(p.body, &ack); err != nil {
			return fmt.Errorf("handshake: bad ConnAuthAck: %w", err)
		}
		if !ack.GetStatus() {
			return fmt.Errorf("Auth FAIL![%s]", ack.GetFeedback())
		}
		return nil
	}
	return fmt.Errorf("handshake fail! [%s]: %v", k.addr, lastErr)
}

func (c *KiteQClient) heartbeatLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(HeartbeatPeriod):
		}
		for _, k := range c.liveConns() {
			ok := false
			for i := 0; i < 3 && !ok; i++ {
				body, _ := proto.Marshal(&kitepb.HeartBeat{Version: proto.Int64(time.Now().Unix())})
				p, err := k.request(CMD_HEARTBEAT, body, HeartbeatTimeout)
				ok = err == nil && p.cmdType == CMD_HEARTBEAT
				if errors.Is(err, errClosed) {
					break
				}
			}
			if !ok {
				logf("heartbeat to %s failed; closing for reconnect", k.addr)
				k.close()
			}
		}
	}
}

func (c *KiteQClient) reconnectLoop() {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-time.After(ReconnectInterval):
		}
		c.mu.RLock()
		var dead []string
		for addr, k := range c.conns {
			if k == nil || k.closed.Load() {
				dead = append(dead, addr)
			}
		}
		c.mu.RUnlock()
		for _, addr := range dead {
			if c.ctx.Err() != nil {
				return
			}
			if err := c.connect(addr); err != nil && verbose {
				logf("reconnect %s: %v", addr, err)
			}
		}
	}
}

func (c *KiteQClient) liveConns() []*conn {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []*conn
	for _, k := range c.conns {
		if k != nil && !k.closed.Load() {
			out = append(out, k)
		}
	}
	return out
}

func (c *KiteQClient) selectConn(topic string) (*conn, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	addrs := c.topicToAddrs[topic]
	if len(addrs) == 0 {
		return nil, errors.New("NO KITE CLIENT ! [" + topic + "]")
	}
	var alive []*conn
	for _, a := range addrs {
		if k := c.conns[a]; k != nil && !k.closed.Load() {
			alive = append(alive, k)
		}
	}
	if len(alive) == 0 {
		return nil, errors.New("NO Alive KITE CLIENT ! [" + topic + "]")
	}
	return alive[rand.IntN(len(alive))], nil
}

// ---------------------------------------------------------------- sending

func (c *KiteQClient) SendStringMessage(m *kitepb.StringMessage) error {
	return c.SendMessage(NewQMessage(m))
}

func (c *KiteQClient) SendBytesMessage(m *kitepb.BytesMessage) error {
	return c.SendMessage(NewQMessage(m))
}

func (c *KiteQClient) SendTxStringMessage(m *kitepb.StringMessage, tx DoTransaction) error {
	return c.SendTxMessage(NewQMessage(m), tx)
}

func (c *KiteQClient) SendTxBytesMessage(m *kitepb.BytesMessage, tx DoTransaction) error {
	return c.SendTxMessage(NewQMessage(m), tx)
}

// SendMessage stamps the client's group id, picks a random live broker for the topic and
// waits (3 s) for a MessageStoreAck with status=true.
func (c *KiteQClient) SendMessage(msg *QMessage) error {
	msg.GetHeader().GroupId = proto.String(c.groupId)
	k, err := c.selectConn(msg.GetHeader().GetTopic())
	if err != nil {
		return err
	}
	return c.send(k, msg)
}

// SendTxMessage sends, runs the local transaction and fires a TX_ACK (opaque 0, no reply):
// status COMMIT iff doTransaction returned (true, nil), else ROLLBACK with the error text.
// It returns doTransaction's error.
func (c *KiteQClient) SendTxMessage(msg *QMessage, doTx DoTransaction) error {
	msg.GetHeader().GroupId = proto.String(c.groupId)
	k, err := c.selectConn(msg.GetHeader().GetTopic())
	if err != nil {
		return err
	}
	if err := c.send(k, msg); err != nil {
		return err
	}
	ok, err := doTx(msg)
	status, feedback := TX_ROLLBACK, ""
	if err == nil && ok {
		status = TX_COMMIT
	} else if err != nil {
		feedback = err.Error()
	}
	ack := &kitepb.TxACKPacket{Header: msg.GetHeader(), Status: proto.Int32(status), Feedback: proto.String(feedback)}
	body, merr := proto.Marshal(ack)
	if merr != nil {
		return merr
	}
	if werr := k.write(packet{opaque: 0, cmdType: CMD_TX_ACK, body: body}); werr != nil {
		logf("tx ack for %s not sent: %v", msg.GetHeader().GetMessageId(), werr)
	}
	return err
}

func (c *KiteQClient) send(k *conn, msg *QMessage) error {
	h := msg.GetHeader()
	if h.GetCreateTime() <= 0 {
		h.CreateTime = proto.Int64(time.Now().Unix())
	}
	pb := msg.GetPbMessage()
	if h.GetSnappy() {
		switch m := pb.(type) {
		case *kitepb.BytesMessage:
			pb = &kitepb.BytesMessage{Header: h, Body: snappy.Encode(nil, m.GetBody())}
		case *kitepb.StringMessage:
			enc := base64.StdEncoding.EncodeToString(snappy.Encode(nil, []byte(m.GetBody())))
			pb = &kitepb.StringMessage{Header: h, Body: proto.String(enc)}
		}
	}
	body, err := proto.Marshal(pb) // fails if a required field is unset, like the original
	if err != nil {
		return err
	}
	p, err := k.request(msg.GetMsgType(), body, StoreAckTimeout)
	if err != nil {
		return err
	}
	if p.cmdType != CMD_MESSAGE_STORE_ACK {
		return fmt.Errorf("kiteIO|SendMessage|FAIL|unexpected response cmd 0x%02x", p.cmdType)
	}
	var ack kitepb.MessageStoreAck
	if err := proto.Unmarshal(p.body, &ack); err != nil {
		return fmt.Errorf("kiteIO|SendMessage|FAIL|bad MessageStoreAck: %w", err)
	}
	if !ack.GetStatus() {
		return fmt.Errorf("kiteIO|SendMessage|FAIL|%s", ack.GetFeedback())
	}
	return nil
}

// ---------------------------------------------------------------- receiving

func (c *KiteQClient) onRequest(k *conn, p packet) {
	switch p.cmdType {
	case CMD_STRING_MESSAGE, CMD_BYTES_MESSAGE, CMD_TX_ACK:
	default:
		logf("connection %s: ignoring packet cmd 0x%02x", k.addr, p.cmdType)
		return
	}
	c.inflight.Add(1)
	c.sem <- struct{}{}
	go func() {
		defer func() { <-c.sem; c.inflight.Add(-1) }()
		if p.cmdType == CMD_TX_ACK {
			c.onTxCheck(k, p)
		} else {
			c.onDeliver(k, p)
		}
	}()
}

func (c *KiteQClient) onDeliver(k *conn, p packet) {
	var msg *QMessage
	if p.cmdType == CMD_STRING_MESSAGE {
		var m kitepb.StringMessage
		if err := proto.Unmarshal(p.body, &m); err != nil {
			logf("drop undecodable StringMessage from %s: %v", k.addr, err)
			return
		}
		msg = NewQMessage(&m)
	} else {
		var m kitepb.BytesMessage
		if err := proto.Unmarshal(p.body, &m); err != nil {
			logf("drop undecodable BytesMessage from %s: %v", k.addr, err)
			return
		}
		msg = NewQMessage(&m)
	}
	h := msg.GetHeader()
	if h.GetSnappy() {
		if msg.IsString() {
			raw, err := base64.StdEncoding.DecodeString(msg.Body.(string))
			if err != nil {
				// the original returns an error here and sends no DeliverAck
				logf("snappy string body of %s is not base64: %v (no ack)", h.GetMessageId(), err)
				return
			}
			if d, err := snappy.Decode(nil, raw); err == nil {
				msg.Body = string(d)
			} else {
				msg.Body = string(raw)
			}
		} else if d, err := snappy.Decode(nil, msg.Body.([]byte)); err == nil {
			msg.Body = d
		}
	}
	succ := false
	var feedback string
	func() {
		defer func() {
			if r := recover(); r != nil {
				succ, feedback = false, fmt.Sprint(r)
			}
		}()
		succ = c.listener.OnMessage(msg)
	}()
	ack := &kitepb.DeliverAck{MessageId: proto.String(h.GetMessageId()), Topic: proto.String(h.GetTopic()),
		MessageType: proto.String(h.GetMessageType()), GroupId: proto.String(h.GetGroupId()),
		Status: proto.Bool(succ), Feedback: proto.String(feedback)}
	body, err := proto.Marshal(ack)
	if err != nil {
		logf("marshal DeliverAck: %v", err)
		return
	}
	if err := k.write(packet{opaque: p.opaque, cmdType: CMD_DELIVER_ACK, body: body}); err != nil {
		logf("DeliverAck for %s not sent: %v", h.GetMessageId(), err)
	}
}

func (c *KiteQClient) onTxCheck(k *conn, p packet) {
	var tp kitepb.TxACKPacket
	if err := proto.Unmarshal(p.body, &tp); err != nil {
		logf("drop undecodable TxACKPacket from %s: %v", k.addr, err)
		return
	}
	tx := newTxResponse(tp.GetHeader())
	if err := c.listener.OnMessageCheck(tx); err != nil {
		tx.Unknown(err.Error())
	}
	tp.Status = proto.Int32(tx.status)
	tp.Feedback = proto.String(tx.feedback)
	body, err := proto.Marshal(&tp)
	if err != nil {
		logf("marshal TxACKPacket: %v", err)
		return
	}
	if err := k.write(packet{opaque: p.opaque, cmdType: CMD_TX_ACK, body: body}); err != nil {
		logf("TX_ACK answer for %s not sent: %v", tx.MessageId, err)
	}
}

// Destroy waits (up to 3 s) for in-flight listener callbacks and their acks, then closes
// every connection and the registry.
func (c *KiteQClient) Destroy() {
	for deadline := time.Now().Add(3 * time.Second); c.inflight.Load() > 0; {
		if time.Now().After(deadline) {
			logf("destroy: %d listener callbacks still running after 3s", c.inflight.Load())
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.cancel()
	c.mu.Lock()
	for _, k := range c.conns {
		if k != nil {
			k.close()
		}
	}
	c.mu.Unlock()
	if c.reg != nil {
		c.reg.Close()
	}
}
