// Package fakebroker is a deliberately tiny in-memory KiteQ broker used only by the
// harness's own Go tests (it is not a reference implementation): it authenticates, stores
// in memory, delivers committed messages to one connection per bound group, redelivers on
// a false or missing DeliverAck, handles TX_ACK commit/rollback and sends "Server Check"
// TX_ACKs for uncommitted messages every CheckPeriod.
package fakebroker

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"kiteq-ts/interop/internal/kitepb"

	"google.golang.org/protobuf/proto"
)

type Binding struct {
	Group, Topic, MessageType string // MessageType "*" = fanout
}

type stored struct {
	cmd    uint8
	header *kitepb.Header
	raw    []byte // the published body, re-sent as is
	acked  map[string]bool
}

type Broker struct {
	Addr        string
	CheckPeriod time.Duration
	RedeliverIn time.Duration
	binds       []Binding
	ln          net.Listener
	opaque      atomic.Uint32
	mu          sync.Mutex
	groups      map[string][]*bconn
	msgs        map[string]*stored
	pending     map[uint32]pend // deliveries awaiting DeliverAck
	stop        chan struct{}
	closeOnce   sync.Once
	Checks      atomic.Int64
}

type pend struct {
	id, group string
}

type bconn struct {
	c   net.Conn
	wmu sync.Mutex
}

func (b *bconn) send(op uint32, cmd uint8, body []byte) {
	buf := make([]byte, 19+len(body))
	binary.BigEndian.PutUint32(buf, op)
	buf[4] = cmd
	binary.BigEndian.PutUint32(buf[15:], uint32(len(body)))
	copy(buf[19:], body)
	b.wmu.Lock()
	defer b.wmu.Unlock()
	_, _ = b.c.Write(buf)
}

func Start(binds []Binding) (*Broker, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Broker{Addr: ln.Addr().String(), CheckPeriod: 300 * time.Millisecond, RedeliverIn: 200 * time.Millisecond,
		binds: binds, ln: ln, groups: map[string][]*bconn{}, msgs: map[string]*stored{},
		pending: map[uint32]pend{}, stop: make(chan struct{})}
	go b.accept()
	go b.recover()
	return b, nil
}

func (b *Broker) Close() {
	b.closeOnce.Do(func() { close(b.stop) })
	_ = b.ln.Close()
	b.mu.Lock()
	for _, cs := range b.groups {
		for _, c := range cs {
			_ = c.c.Close()
		}
	}
	b.mu.Unlock()
}

func (b *Broker) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.serve(&bconn{c: c})
	}
}

func (b *Broker) serve(c *bconn) {
	r := bufio.NewReader(c.c)
	group := ""
	defer func() {
		_ = c.c.Close()
		b.mu.Lock()
		cs := b.groups[group]
		for i, x := range cs {
			if x == c {
				b.groups[group] = append(cs[:i:i], cs[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
	}()
	var h [19]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(h[15:]))
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		op, cmd := binary.BigEndian.Uint32(h[:4]), h[4]
		switch cmd {
		case 0x02:
			var m kitepb.ConnMeta
			if proto.Unmarshal(body, &m) != nil {
				return
			}
			group = m.GetGroupId()
			b.mu.Lock()
			b.groups[group] = append(b.groups[group], c)
			b.mu.Unlock()
			out, _ := proto.Marshal(&kitepb.ConnAuthAck{Status: proto.Bool(true), Feedback: proto.String("Auth Succ")})
			c.send(op, 0x03, out)
		case 0x01:
			c.send(op, 0x01, body)
		case 0x11, 0x12:
			b.onPublish(c, op, cmd, body)
		case 0x05:
			var a kitepb.DeliverAck
			if proto.Unmarshal(body, &a) != nil {
				continue
			}
			b.onDeliverAck(op, a.GetStatus())
		case 0x06:
			var t kitepb.TxACKPacket
			if proto.Unmarshal(body, &t) != nil {
				continue
			}
			b.onTx(t.GetHeader().GetMessageId(), t.GetStatus())
		}
	}
}

func (b *Broker) onPublish(c *bconn, op uint32, cmd uint8, body []byte) {
	var h *kitepb.Header
	if cmd == 0x12 {
		var m kitepb.StringMessage
		if proto.Unmarshal(body, &m) != nil {
			return
		}
		h = m.GetHeader()
	} else {
		var m kitepb.BytesMessage
		if proto.Unmarshal(body, &m) != nil {
			return
		}
		h = m.GetHeader()
	}
	ok := len(h.GetMessageId()) == 32
	fb := "Store Result true Cost:0"
	if !ok {
		fb = "Invalid MessageId For UUID!"
	} else if h.GetExpiredTime() > 0 && h.GetExpiredTime() < time.Now().Unix() {
		ok, fb = false, "Expired Message!"
	}
	if ok {
		b.mu.Lock()
		b.msgs[h.GetMessageId()] = &stored{cmd: cmd, header: h, raw: body, acked: map[string]bool{}}
		b.mu.Unlock()
	}
	out, _ := proto.Marshal(&kitepb.MessageStoreAck{MessageId: proto.String(h.GetMessageId()),
		Status: proto.Bool(ok), Feedback: proto.String(fb)})
	c.send(op, 0x04, out)
	if ok && h.GetCommit() {
		b.deliver(h.GetMessageId())
	}
}

func (b *Broker) onTx(id string, status int32) {
	b.mu.Lock()
	m := b.msgs[id]
	switch {
	case m == nil:
	case status == 1:
		m.header.Commit = proto.Bool(true)
	case status == 2:
		delete(b.msgs, id)
		m = nil
	}
	b.mu.Unlock()
	if m != nil && status == 1 {
		b.deliver(id)
	}
}

func (b *Broker) matchingGroups(h *kitepb.Header) []string {
	var gs []string
	for _, x := range b.binds {
		if x.Topic == h.GetTopic() && (x.MessageType == "*" || x.MessageType == h.GetMessageType()) {
			gs = append(gs, x.Group)
		}
	}
	return gs
}

// deliver sends the message to one connection of every bound group that has not acked it.
func (b *Broker) deliver(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.msgs[id]
	if m == nil || !m.header.GetCommit() {
		return
	}
	for _, g := range b.matchingGroups(m.header) {
		if m.acked[g] {
			continue
		}
		cs := b.groups[g]
		if len(cs) == 0 {
			continue
		}
		op := b.opaque.Add(1)
		b.pending[op] = pend{id, g}
		go cs[rand.IntN(len(cs))].send(op, m.cmd, m.raw)
		go func() {
			time.Sleep(2 * time.Second)
			b.mu.Lock()
			_, still := b.pending[op]
			delete(b.pending, op)
			b.mu.Unlock()
			if still {
				b.deliver(id)
			}
		}()
	}
}

func (b *Broker) onDeliverAck(op uint32, ok bool) {
	b.mu.Lock()
	p, found := b.pending[op]
	delete(b.pending, op)
	if found && ok {
		if m := b.msgs[p.id]; m != nil {
			m.acked[p.group] = true
		}
	}
	b.mu.Unlock()
	if found && !ok {
		time.AfterFunc(b.RedeliverIn, func() { b.deliver(p.id) })
	}
}

// recover sends a "Server Check" for every uncommitted message each CheckPeriod, and
// retries deliveries that found no consumer connection.
func (b *Broker) recover() {
	for {
		select {
		case <-b.stop:
			return
		case <-time.After(b.CheckPeriod):
		}
		b.mu.Lock()
		var redo []string
		for id, m := range b.msgs {
			if m.header.GetCommit() {
				redo = append(redo, id)
				continue
			}
			cs := b.groups[m.header.GetGroupId()]
			if len(cs) == 0 {
				continue
			}
			out, _ := proto.Marshal(&kitepb.TxACKPacket{Header: m.header, Status: proto.Int32(0),
				Feedback: proto.String("Server Check")})
			b.Checks.Add(1)
			go cs[rand.IntN(len(cs))].send(b.opaque.Add(1), 0x06, out)
		}
		inflight := map[string]bool{}
		for _, p := range b.pending {
			inflight[p.id] = true
		}
		b.mu.Unlock()
		for _, id := range redo {
			if !inflight[id] {
				b.deliver(id)
			}
		}
	}
}
