package main

import (
	"fmt"
	"log"
	"strings"
	"sync"
	"time"

	kc "kiteq-ts/interop/internal/kiteclient"
)

type readyEvent struct {
	Event  string `json:"event"`
	Client string `json:"client"`
}

type consumedEvent struct {
	Event      string `json:"event"`
	Received   int    `json:"received"`   // distinct message ids accepted
	Duplicates int64  `json:"duplicates"` // deliveries of an id that had already been accepted
	Deliveries int64  `json:"deliveries"` // every delivery, including rejected ones
	Rejected   int64  `json:"rejected"`   // deliveries answered false because of -reject-first
	Corrupt    int64  `json:"corrupt"`    // accepted messages whose body broke the body rule
	ElapsedMs  int64  `json:"elapsedMs"`  // from "ready" to the expect-th distinct id (or the timeout)
	Client     string `json:"client"`
}

type consumer struct {
	mu          sync.Mutex
	seen        map[string]bool
	deliveries  int64
	rejected    int64
	duplicates  int64
	corrupt     int64
	rejectFirst int64
	bodySize    int
	expect      int
	ids         *lineWriter
	done        chan struct{}
	doneAt      time.Time
}

func (c *consumer) OnMessage(msg *kc.QMessage) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deliveries++
	if c.deliveries <= c.rejectFirst {
		c.rejected++
		return false
	}
	h := msg.GetHeader()
	id := h.GetMessageId()
	if c.seen[id] {
		c.duplicates++
		return true
	}
	c.seen[id] = true
	kind, n, ok := "s", 0, false
	switch b := msg.GetBody().(type) {
	case string:
		n, ok = len(b), verifyString(id, b, c.bodySize)
	case []byte:
		kind, n, ok = "b", len(b), verifyBytes(id, b, c.bodySize)
	}
	if !ok {
		c.corrupt++
		if c.corrupt <= 20 {
			log.Printf("corrupt body: %s message %s (topic %s, type %s, %d bytes)", kind, id, h.GetTopic(), h.GetMessageType(), n)
		}
	}
	props := make([]string, 0, len(h.GetProperties()))
	for _, e := range h.GetProperties() {
		props = append(props, e.GetKey()+"="+e.GetValue())
	}
	ps := strings.Join(props, ";")
	if ps == "" {
		ps = "-"
	}
	c.ids.line("%s %s %d %s", kind, id, n, ps)
	if len(c.seen) == c.expect {
		c.doneAt = time.Now()
		close(c.done)
	}
	return true
}

// OnMessageCheck commits, like the Go client's default listener.
func (c *consumer) OnMessageCheck(tx *kc.TxResponse) error {
	tx.Commit()
	return nil
}

func runConsume(args []string) error {
	var c common
	fs := newFlagSet("consume", &c)
	bind := fs.String("bind", "direct", "binding type: direct|regx|fanout (-type is the regex for regx, ignored for fanout)")
	watermark := fs.Int("watermark", 1000, "binding watermark (messages/s per broker)")
	persistent := fs.Bool("persistent", true, "persistent binding")
	expect := fs.Int("expect", -1, "distinct message ids to wait for (required)")
	timeout := fs.Duration("timeout", 120*time.Second, "give up (exit 1) after this long")
	linger := fs.Duration("linger", 0, "keep receiving this long after -expect is reached (to count duplicates/extras)")
	rejectFirst := fs.Int64("reject-first", 0, "answer false to the first K deliveries")
	bodySize := fs.Int("body-size", 0, "if > 0 also check body lengths against the body rule for this size")
	warmup := fs.Int("warmup-sec", 0, "warmingupSec sent in ConnMeta")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(*bind != "fanout"); err != nil {
		return err
	}
	if *expect < 0 {
		return fmt.Errorf("missing required flag -expect")
	}
	var b *kc.Binding
	switch *bind {
	case "direct":
		b = kc.Bind_Direct(c.group, c.topic, c.msgType, int32(*watermark), *persistent)
	case "regx":
		b = kc.Bind_Regx(c.group, c.topic, c.msgType, int32(*watermark), *persistent)
	case "fanout":
		b = kc.Bind_Fanout(c.group, c.topic, int32(*watermark), *persistent)
	default:
		return fmt.Errorf("-bind must be direct, regx or fanout, got %q", *bind)
	}
	ids, err := openLines(c.idsOut)
	if err != nil {
		return err
	}
	defer ids.close()
	con := &consumer{seen: map[string]bool{}, rejectFirst: *rejectFirst, bodySize: *bodySize,
		expect: *expect, ids: ids, done: make(chan struct{})}
	if *expect == 0 {
		close(con.done)
	}
	cl, err := startClient(&c, nil, []*kc.Binding{b}, con, *warmup)
	if err != nil {
		return err
	}
	start := time.Now()
	emit(readyEvent{"ready", ClientImpl})

	sig := stopSignals()
	timedOut, interrupted := false, false
	select {
	case <-con.done:
		if *linger > 0 {
			select {
			case <-time.After(*linger):
			case <-sig:
			}
		}
	case <-time.After(*timeout):
		timedOut = true
	case <-sig:
		interrupted = true
	}
	cl.Destroy() // waits for in-flight callbacks so their DeliverAcks go out

	con.mu.Lock()
	ev := consumedEvent{"consumed", len(con.seen), con.duplicates, con.deliveries, con.rejected,
		con.corrupt, 0, ClientImpl}
	if con.doneAt.IsZero() {
		ev.ElapsedMs = elapsedMs(start)
	} else {
		ev.ElapsedMs = con.doneAt.Sub(start).Milliseconds()
	}
	con.mu.Unlock()
	emit(ev)
	if timedOut {
		return fmt.Errorf("timeout after %s: received %d of %d distinct messages", *timeout, ev.Received, *expect)
	}
	if interrupted {
		return fmt.Errorf("interrupted: received %d of %d distinct messages", ev.Received, *expect)
	}
	return nil
}
