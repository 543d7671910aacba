package main

import (
	"errors"
	"fmt"
	"time"

	kc "kiteq-ts/interop/internal/kiteclient"
)

type txEvent struct {
	Event     string `json:"event"`
	Sent      int    `json:"sent"`   // stored by the broker (store ack ok), local tx ran, TX_ACK sent
	Failed    int    `json:"failed"` // store failed
	Decision  string `json:"decision"`
	ElapsedMs int64  `json:"elapsedMs"`
	Client    string `json:"client"`
}

var errLocalTx = errors.New("local tx failed")

func runTx(args []string) error {
	var c common
	var o msgOpts
	fs := addMsgFlags(&c, "tx", &o)
	n := fs.Int("n", 0, "number of transactional string messages (required)")
	decision := fs.String("decision", "", "local transaction result: commit|rollback|error (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(true); err != nil {
		return err
	}
	var doTx kc.DoTransaction
	switch *decision {
	case "commit":
		doTx = func(*kc.QMessage) (bool, error) { return true, nil }
	case "rollback":
		doTx = func(*kc.QMessage) (bool, error) { return false, nil }
	case "error":
		doTx = func(*kc.QMessage) (bool, error) { return false, errLocalTx }
	default:
		return fmt.Errorf("-decision must be commit, rollback or error, got %q", *decision)
	}
	ids, cl, release, err := startProducer(&c, producerListener{})
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	sent, failed := 0, 0
	for i := 0; i < *n; i++ {
		id := kc.MessageId()
		ran := false
		err := cl.SendTxStringMessage(o.stringMsg(id, c.topic, c.msgType, false), func(m *kc.QMessage) (bool, error) {
			ran = true
			return doTx(m)
		})
		if !ran { // the message was not stored, the local tx never ran
			failed++
			logSendFailure(int64(failed), "tx send", id, err)
			continue
		}
		sent++
		ids.line("s %s", id)
	}
	emit(txEvent{"tx", sent, failed, *decision, elapsedMs(start), ClientImpl})
	if failed > 0 {
		return fmt.Errorf("%d of %d transactional sends failed", failed, *n)
	}
	return nil
}
