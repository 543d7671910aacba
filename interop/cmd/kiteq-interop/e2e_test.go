package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kiteq-ts/interop/internal/fakebroker"
)

// End-to-end checks of the CLI contract against the tiny in-memory broker in
// internal/fakebroker (the real KiteQ broker is not available here).

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kiteq-interop-test")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "kiteq-interop")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		panic(fmt.Sprintf("build: %v\n%s", err, out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	events []map[string]interface{}
	stderr string
	code   int
}

func (r result) last(event string) map[string]interface{} {
	for i := len(r.events) - 1; i >= 0; i-- {
		if r.events[i]["event"] == event {
			return r.events[i]
		}
	}
	return nil
}

func parseLines(t *testing.T, out []byte) []map[string]interface{} {
	var evs []map[string]interface{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l == "" {
			continue
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q", l)
		}
		evs = append(evs, m)
	}
	return evs
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{parseLines(t, out.Bytes()), errb.String(), code}
}

// startConsumer runs consume in the background and returns once it printed "ready".
func startConsumer(t *testing.T, args ...string) func() result {
	w, _ := startConsumerCmd(t, args...)
	return w
}

func startConsumerCmd(t *testing.T, args ...string) (func() result, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"consume"}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	ready := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), `"ready"`) {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("consumer exited before ready: %s", errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consumer not ready")
	}
	return func() result {
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{parseLines(t, []byte(strings.Join(lines, "\n"))), errb.String(), code}
	}, cmd
}

func setup(t *testing.T, binds ...fakebroker.Binding) (string, *fakebroker.Broker, string) {
	b, err := fakebroker.Start(binds)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	reg := filepath.Join(dir, "registry.yaml")
	yaml := fmt.Sprintf("brokers:\n  - address: %q\n    topics: [\"trade\", \"user-profile\"]\n    env: dev\n", b.Addr)
	if err := os.WriteFile(reg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + reg, b, dir
}

func num(m map[string]interface{}, k string) int {
	if m == nil {
		return -1
	}
	v, _ := m[k].(float64)
	return int(v)
}

func readLines(t *testing.T, p string) []string {
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestProduceConsumeMixedWithRejects(t *testing.T) {
	reg, _, dir := setup(t, fakebroker.Binding{Group: "s-test", Topic: "trade", MessageType: "pay-succ"})
	cin, pin := filepath.Join(dir, "consumed.txt"), filepath.Join(dir, "produced.txt")
	wait := startConsumer(t, "-registry", reg, "-group", "s-test", "-topic", "trade", "-type", "pay-succ",
		"-expect", "20", "-timeout", "20s", "-reject-first", "3", "-body-size", "300", "-ids-out", cin)
	p := run(t, "produce", "-registry", reg, "-group", "p-test", "-topic", "trade", "-type", "pay-succ",
		"-n", "20", "-kind", "mixed", "-concurrency", "4", "-body-size", "300", "-prop", "deliverAt=123",
		"-prop", "k=v", "-ids-out", pin)
	if p.code != 0 || num(p.last("produced"), "sent") != 20 || num(p.last("produced"), "failed") != 0 {
		t.Fatalf("produce: %+v", p)
	}
	c := wait()
	ev := c.last("consumed")
	if c.code != 0 || num(ev, "received") != 20 || num(ev, "corrupt") != 0 || num(ev, "rejected") != 3 {
		t.Fatalf("consume: %+v", c)
	}
	prod, cons := readLines(t, pin), readLines(t, cin)
	if len(prod) != 20 || len(cons) != 20 {
		t.Fatalf("ids files: %d produced, %d consumed", len(prod), len(cons))
	}
	want := map[string]bool{}
	s := 0
	for _, l := range prod {
		want[l] = true
		if strings.HasPrefix(l, "s ") {
			s++
		}
	}
	if s != 10 {
		t.Fatalf("mixed should alternate: %d strings of 20", s)
	}
	for _, l := range cons {
		f := strings.Split(l, " ")
		if len(f) != 4 || !want[f[0]+" "+f[1]] || f[2] != "300" || f[3] != "deliverAt=123;k=v" {
			t.Fatalf("bad consumed line %q", l)
		}
	}
}

func TestConsumeTimeoutAndRegx(t *testing.T) {
	reg, _, _ := setup(t, fakebroker.Binding{Group: "s-regx", Topic: "trade", MessageType: "pay-succ"})
	c := run(t, "consume", "-registry", reg, "-group", "s-regx", "-topic", "trade", "-type", "pay-.*",
		"-bind", "regx", "-expect", "1", "-timeout", "1s")
	if c.code == 0 || num(c.last("consumed"), "received") != 0 || c.last("ready") == nil ||
		!strings.Contains(c.stderr, "timeout") {
		t.Fatalf("expected timeout: %+v", c)
	}
}

func TestTx(t *testing.T) {
	reg, _, dir := setup(t, fakebroker.Binding{Group: "s-tx", Topic: "trade", MessageType: "tx"})
	for _, d := range []string{"rollback", "error"} {
		r := run(t, "tx", "-registry", reg, "-group", "p-tx", "-topic", "trade", "-type", "tx", "-n", "3", "-decision", d)
		if r.code != 0 || num(r.last("tx"), "sent") != 3 {
			t.Fatalf("tx %s: %+v", d, r)
		}
	}
	ids := filepath.Join(dir, "tx.txt")
	r := run(t, "tx", "-registry", reg, "-group", "p-tx", "-topic", "trade", "-type", "tx", "-n", "3",
		"-decision", "commit", "-ids-out", ids)
	if r.code != 0 || num(r.last("tx"), "sent") != 3 || len(readLines(t, ids)) != 3 {
		t.Fatalf("tx commit: %+v", r)
	}
	// only the 3 committed ones arrive: expect 3, then linger to see nothing more
	c := run(t, "consume", "-registry", reg, "-group", "s-tx", "-topic", "trade", "-type", "tx",
		"-expect", "3", "-timeout", "10s", "-linger", "1s")
	if c.code != 0 || num(c.last("consumed"), "received") != 3 || num(c.last("consumed"), "deliveries") != 3 {
		t.Fatalf("consume after tx: %+v", c)
	}
}

func TestUncommitted(t *testing.T) {
	reg, _, _ := setup(t, fakebroker.Binding{Group: "s-unc", Topic: "trade", MessageType: "unc"})
	r := run(t, "uncommitted", "-registry", reg, "-group", "p-unc", "-topic", "trade", "-type", "unc",
		"-n", "4", "-answer", "commit", "-wait", "10s")
	ev := r.last("checked")
	if r.code != 0 || num(ev, "sent") != 4 || num(ev, "checked") != 4 {
		t.Fatalf("uncommitted commit: %+v", r)
	}
	checks := 0
	for _, e := range r.events {
		if e["event"] == "check" && len(e["messageId"].(string)) == 32 && e["topic"] == "trade" {
			checks++
		}
	}
	if checks < 4 {
		t.Fatalf("want >= 4 check lines, got %d", checks)
	}
	c := run(t, "consume", "-registry", reg, "-group", "s-unc", "-topic", "trade", "-type", "unc",
		"-expect", "4", "-timeout", "10s")
	if c.code != 0 {
		t.Fatalf("committed-by-check messages not delivered: %+v", c)
	}
	u := run(t, "uncommitted", "-registry", reg, "-group", "p-unc2", "-topic", "trade", "-type", "unc",
		"-n", "2", "-answer", "unknown", "-wait", "2s")
	if u.code != 0 || num(u.last("checked"), "checked") != 2 || num(u.last("checked"), "checks") < 4 {
		t.Fatalf("uncommitted unknown should be asked repeatedly: %+v", u)
	}
}

func TestErrors(t *testing.T) {
	if r := run(t, "produce", "-topic", "x"); r.code == 0 || !strings.Contains(r.stderr, "-registry") {
		t.Fatalf("missing flags: %+v", r)
	}
	r := run(t, "produce", "-registry", "file:///nonexistent.yaml", "-group", "g", "-topic", "t", "-type", "m", "-n", "1")
	if r.code == 0 || len(r.events) != 0 {
		t.Fatalf("bad registry: %+v", r)
	}
	if out, err := exec.Command(bin, "--help").Output(); err != nil || !strings.Contains(string(out), "uncommitted") {
		t.Fatalf("--help: %v %s", err, out)
	}
	reg, b, _ := setup(t)
	e := run(t, "produce", "-registry", reg, "-group", "g", "-topic", "trade", "-type", "m", "-n", "2", "-expire-sec", "-10")
	if e.code == 0 || num(e.last("produced"), "failed") != 2 {
		t.Fatalf("expired sends should fail: %+v", e)
	}
	b.Close()
	d := run(t, "consume", "-registry", reg, "-group", "g", "-topic", "trade", "-type", "m", "-expect", "1")
	if d.code != 1 || len(d.events) != 0 || !strings.Contains(d.stderr, "no broker connection") {
		t.Fatalf("unreachable broker: %+v", d)
	}
}

func TestConsumeSigterm(t *testing.T) {
	reg, _, _ := setup(t, fakebroker.Binding{Group: "s-sig", Topic: "trade", MessageType: "m"})
	wait, cmd := startConsumerCmd(t, "-registry", reg, "-group", "s-sig", "-topic", "trade", "-type", "m",
		"-expect", "5", "-timeout", "60s")
	run(t, "produce", "-registry", reg, "-group", "p-sig", "-topic", "trade", "-type", "m", "-n", "2")
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(os.Interrupt)
	r := wait()
	if r.code != 1 || num(r.last("consumed"), "received") != 2 || !strings.Contains(r.stderr, "interrupted") {
		t.Fatalf("SIGINT: %+v", r)
	}
}
