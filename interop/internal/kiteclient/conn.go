package kiteclient

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Era C ("modern") framing, kiteq-spec §1.2:
// opaque u32 | cmdType u8 | version i16 (0) | extension i64 (0) | bodyLen i32 | body.
const (
	headLen        = 19
	maxPacketBytes = 2 * 1024 * 1024
)

var errClosed = errors.New("connection closed")

type packet struct {
	opaque  uint32
	cmdType uint8
	body    []byte
}

func encodeFrame(p packet) []byte {
	buf := make([]byte, headLen+len(p.body))
	binary.BigEndian.PutUint32(buf[0:4], p.opaque)
	buf[4] = p.cmdType
	// bytes 5..14: version and extension, always zero
	binary.BigEndian.PutUint32(buf[15:19], uint32(len(p.body)))
	copy(buf[headLen:], p.body)
	return buf
}

func readFrame(r *bufio.Reader) (packet, error) {
	var h [headLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return packet{}, err
	}
	n := int32(binary.BigEndian.Uint32(h[15:19]))
	if n < 0 || n > maxPacketBytes {
		return packet{}, fmt.Errorf("bad body length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return packet{}, err
	}
	return packet{opaque: binary.BigEndian.Uint32(h[0:4]), cmdType: h[4], body: body}, nil
}

// conn is one TCP connection to a broker. Responses are matched to requests by
// (connection, opaque); packets that are not responses go to onRequest.
type conn struct {
	addr      string
	c         net.Conn
	wmu       sync.Mutex
	mu        sync.Mutex
	pending   map[uint32]chan packet
	closed    atomic.Bool
	done      chan struct{}
	onRequest func(*conn, packet)
	opaques   *atomic.Uint32
}

func dial(addr string, timeout time.Duration, opaques *atomic.Uint32, onRequest func(*conn, packet)) (*conn, error) {
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(20 * time.Second)
	}
	k := &conn{addr: addr, c: c, pending: map[uint32]chan packet{}, done: make(chan struct{}),
		onRequest: onRequest, opaques: opaques}
	go k.readLoop()
	return k, nil
}

func isResponse(cmd uint8) bool {
	return cmd == CMD_CONN_AUTH || cmd == CMD_HEARTBEAT || cmd == CMD_MESSAGE_STORE_ACK
}

func (k *conn) readLoop() {
	r := bufio.NewReaderSize(k.c, 16*1024)
	for {
		p, err := readFrame(r)
		if err != nil {
			if !k.closed.Load() {
				logf("connection %s: read: %v", k.addr, err)
			}
			k.close()
			return
		}
		if isResponse(p.cmdType) {
			k.mu.Lock()
			ch := k.pending[p.opaque]
			delete(k.pending, p.opaque)
			k.mu.Unlock()
			if ch != nil {
				ch <- p
			} else if p.cmdType == CMD_CONN_AUTH {
				// unsolicited CONN_AUTH (status=false, opaque 0): the broker is dropping us
				logf("connection %s: unsolicited CONN_AUTH from broker", k.addr)
			}
			continue
		}
		k.onRequest(k, p)
	}
}

func (k *conn) write(p packet) error {
	if k.closed.Load() {
		return errClosed
	}
	if len(p.body) > maxPacketBytes {
		return fmt.Errorf("packet too large (%d bytes)", len(p.body))
	}
	frame := encodeFrame(p)
	k.wmu.Lock()
	defer k.wmu.Unlock()
	_ = k.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := k.c.Write(frame)
	if err != nil {
		k.close()
	}
	return err
}

// request sends with a fresh opaque and waits for the response with that opaque.
func (k *conn) request(cmd uint8, body []byte, timeout time.Duration) (packet, error) {
	op := k.opaques.Add(1)
	ch := make(chan packet, 1)
	k.mu.Lock()
	k.pending[op] = ch
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		delete(k.pending, op)
		k.mu.Unlock()
	}()
	if err := k.write(packet{opaque: op, cmdType: cmd, body: body}); err != nil {
		return packet{}, err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case p := <-ch:
		return p, nil
	case <-t.C:
		return packet{}, errors.New("WAIT RESPONSE TIMEOUT")
	case <-k.done:
		return packet{}, errClosed
	}
}

func (k *conn) close() {
	if k.closed.CompareAndSwap(false, true) {
		_ = k.c.Close()
		close(k.done)
	}
}
