package main

import (
	"fmt"
	"log"
	"sync"
	"time"

	kc "kiteq-ts/interop/internal/kiteclient"
)

type checkEvent struct {
	Event     string `json:"event"`
	MessageId string `json:"messageId"`
	Topic     string `json:"topic"`
	Answer    string `json:"answer"`
}

type checkedEvent struct {
	Event     string `json:"event"`
	Sent      int    `json:"sent"`
	Checked   int    `json:"checked"` // distinct sent ids checked at least once
	Checks    int    `json:"checks"`  // checks received for sent ids
	Foreign   int    `json:"foreign"` // checks for ids this run did not send
	ElapsedMs int64  `json:"elapsedMs"`
	Client    string `json:"client"`
}

// checker answers broker "Server Check" TX_ACKs with a fixed answer and records them.
type checker struct {
	answer   string
	mu       sync.Mutex
	ids      map[string]bool // ids being sent or sent (false = send failed, removed)
	checked  map[string]int
	checks   int
	foreign  int
	expected int
	allDone  chan struct{}
	closed   bool
}

func (k *checker) OnMessage(*kc.QMessage) bool { return false }

func (k *checker) OnMessageCheck(tx *kc.TxResponse) error {
	emit(checkEvent{"check", tx.MessageId, tx.Topic, k.answer})
	switch k.answer {
	case "commit":
		tx.Commit()
	case "rollback":
		tx.Rollback("interop rollback")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.ids[tx.MessageId] {
		k.foreign++
		return nil
	}
	k.checks++
	k.checked[tx.MessageId]++
	k.maybeDone()
	return nil
}

// maybeDone must be called with mu held.
func (k *checker) maybeDone() {
	if !k.closed && k.expected >= 0 && len(k.checked) >= k.expected {
		k.closed = true
		close(k.allDone)
	}
}

func runUncommitted(args []string) error {
	var c common
	var o msgOpts
	fs := addMsgFlags(&c, "uncommitted", &o)
	n := fs.Int("n", 0, "number of commit=false string messages sent with the plain send (required)")
	answer := fs.String("answer", "", "answer to server checks: commit|rollback|unknown (required)")
	wait := fs.Duration("wait", 60*time.Second, "how long to wait for checks")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := c.check(true); err != nil {
		return err
	}
	if *answer != "commit" && *answer != "rollback" && *answer != "unknown" {
		return fmt.Errorf("-answer must be commit, rollback or unknown, got %q", *answer)
	}
	k := &checker{answer: *answer, ids: map[string]bool{}, checked: map[string]int{}, expected: -1,
		allDone: make(chan struct{})}
	ids, cl, release, err := startProducer(&c, k)
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	sent, failed := 0, 0
	for i := 0; i < *n; i++ {
		id := kc.MessageId()
		k.mu.Lock()
		k.ids[id] = true // before sending: a check may race with the store ack
		k.mu.Unlock()
		if err := cl.SendStringMessage(o.stringMsg(id, c.topic, c.msgType, false)); err != nil {
			k.mu.Lock()
			delete(k.ids, id)
			k.mu.Unlock()
			failed++
			logSendFailure(int64(failed), "send", id, err)
			continue
		}
		sent++
		ids.line("s %s", id)
	}
	if failed > 0 {
		log.Printf("%d of %d sends failed", failed, *n)
	}
	k.mu.Lock()
	k.expected = sent
	if *answer != "unknown" {
		k.maybeDone()
	}
	k.mu.Unlock()

	deadline := time.After(*wait)
	allDone := k.allDone
	if *answer == "unknown" {
		allDone = nil // always wait the full -wait
	}
	select {
	case <-allDone:
	case <-deadline:
	case <-stopSignals():
	}
	cl.Destroy() // let the last answers go out before reporting
	k.mu.Lock()
	ev := checkedEvent{"checked", sent, len(k.checked), k.checks, k.foreign, elapsedMs(start), ClientImpl}
	k.mu.Unlock()
	emit(ev)
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d sends failed", failed, *n)
	case ev.Checked < sent:
		return fmt.Errorf("only %d of %d messages were checked within %s", ev.Checked, sent, *wait)
	}
	return nil
}
