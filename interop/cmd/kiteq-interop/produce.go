package main

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	kc "kiteq-ts/interop/internal/kiteclient"
	"kiteq-ts/interop/internal/kitepb"

	"google.golang.org/protobuf/proto"
)

type producedEvent struct {
	Event     string `json:"event"`
	Sent      int64  `json:"sent"`
	Failed    int64  `json:"failed"`
	ElapsedMs int64  `json:"elapsedMs"`
	Client    string `json:"client"`
}

// producerListener is used by producing clients: it never accepts deliveries and commits
// on a server check (the default behaviour of the Go client's listener).
type producerListener struct{}

func (producerListener) OnMessage(*kc.QMessage) bool { return false }
func (producerListener) OnMessageCheck(tx *kc.TxResponse) error {
	tx.Commit()
	return nil
}

// msgOpts are the message-building flags shared by produce, tx and uncommitted.
type msgOpts struct {
	bodySize  int
	props     propFlags
	expireSec int64
	snappy    bool
}

func addMsgFlags(c *common, name string, o *msgOpts) *flag.FlagSet {
	fs := newFlagSet(name, c)
	fs.IntVar(&o.bodySize, "body-size", 512, "body size in bytes (see the body rule in README)")
	fs.Var(&o.props, "prop", "header property k=v (repeatable)")
	fs.Int64Var(&o.expireSec, "expire-sec", 3600, "expiredTime = now + this many seconds")
	return fs
}

func (o *msgOpts) stringMsg(id, topic, msgType string, commit bool) *kitepb.StringMessage {
	h := header(id, topic, msgType, commit, time.Now().Unix()+o.expireSec, o.props)
	if o.snappy {
		h.Snappy = proto.Bool(true)
	}
	return &kitepb.StringMessage{Header: h, Body: proto.String(stringBody(id, o.bodySize))}
}

func (o *msgOpts) bytesMsg(id, topic, msgType string, commit bool) *kitepb.BytesMessage {
	h := header(id, topic, msgType, commit, time.Now().Unix()+o.expireSec, o.props)
	if o.snappy {
		h.Snappy = proto.Bool(true)
	}
	return &kitepb.BytesMessage{Header: h, Body: bytesBody(id, o.bodySize)}
}

func runProduce(args []string) error {
	var c common
	var o msgOpts
	fs := addMsgFlags(&c, "produce", &o)
	n := fs.Int("n", 0, "number of messages to send (required)")
	kind := fs.String("kind", "string", "string|bytes|mixed (mixed alternates, starting with string)")
	conc := fs.Int("concurrency", 1, "number of concurrent senders")
	fs.BoolVar(&o.snappy, "snappy", false, "set header.snappy and compress bodies like the Go client")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(true); err != nil {
		return err
	}
	if *kind != "string" && *kind != "bytes" && *kind != "mixed" {
		return fmt.Errorf("-kind must be string, bytes or mixed, got %q", *kind)
	}
	if *n < 0 || *conc < 1 || o.bodySize < 0 {
		return fmt.Errorf("need -n >= 0, -concurrency >= 1, -body-size >= 0")
	}
	ids, cl, release, err := startProducer(&c, producerListener{})
	if err != nil {
		return err
	}
	defer release()

	var next, sent, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				isString := *kind == "string" || (*kind == "mixed" && i%2 == 0)
				id := kc.MessageId()
				var err error
				if isString {
					err = cl.SendStringMessage(o.stringMsg(id, c.topic, c.msgType, true))
				} else {
					err = cl.SendBytesMessage(o.bytesMsg(id, c.topic, c.msgType, true))
				}
				if err != nil {
					logSendFailure(failed.Add(1), "send", id, err)
					continue
				}
				sent.Add(1)
				if isString {
					ids.line("s %s", id)
				} else {
					ids.line("b %s", id)
				}
			}
		}()
	}
	wg.Wait()
	emit(producedEvent{"produced", sent.Load(), failed.Load(), elapsedMs(start), ClientImpl})
	if failed.Load() > 0 {
		return fmt.Errorf("%d of %d sends failed", failed.Load(), *n)
	}
	return nil
}
