// Command kiteq-interop drives a KiteQ broker as a producer/consumer so that a test suite
// can check interoperability. See interop/README.md for the CLI contract: every line on
// stdout is one JSON object; logs go to stderr; exit 0 on success.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	kc "kiteq-ts/interop/internal/kiteclient"
)

// ClientImpl names the KiteQ client implementation linked into this binary; it is
// reported in the final JSON line of every subcommand.
const ClientImpl = "spec-standin"

const usage = `kiteq-interop: KiteQ interop harness (client: ` + ClientImpl + `)

Usage:
  kiteq-interop produce     -registry URI -group G -topic T -type MT -n N -kind string|bytes|mixed
                            [-concurrency 1] [-body-size 512] [-prop k=v]... [-expire-sec 3600]
                            [-snappy] [-ids-out FILE]
  kiteq-interop consume     -registry URI -group G -topic T -type MT [-bind direct|regx|fanout]
                            [-watermark 1000] [-persistent=true] -expect N [-timeout 120s]
                            [-linger 0s] [-body-size 0] [-reject-first K] [-warmup-sec 0] [-ids-out FILE]
  kiteq-interop tx          -registry URI -group G -topic T -type MT -n N -decision commit|rollback|error
                            [-body-size 512] [-prop k=v]... [-expire-sec 3600] [-ids-out FILE]
  kiteq-interop uncommitted -registry URI -group G -topic T -type MT -n N -answer commit|rollback|unknown
                            [-wait 60s] [-body-size 512] [-prop k=v]... [-expire-sec 3600] [-ids-out FILE]

Common: -secret KEY (default 123456). Registry URI: file:///abs/registry.yaml or zk://host:port[,host:port].
Run "kiteq-interop <subcommand> -h" for the flags of one subcommand.
Set KITEQ_INTEROP_VERBOSE=1 for more logging on stderr.
`

func main() {
	log.SetOutput(os.Stderr)
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("[kiteq-interop] ")
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"produce": runProduce, "consume": runConsume, "tx": runTx, "uncommitted": runUncommitted,
	}
	name := os.Args[1]
	switch name {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return
	}
	run, ok := cmds[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown subcommand %q\n\n%s", name, usage)
		os.Exit(2)
	}
	err := run(os.Args[2:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintf(os.Stderr, "kiteq-interop %s: %v\n", name, err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------- flags

type common struct {
	registry, group, topic, msgType, secret string
	idsOut                                  string
}

func newFlagSet(name string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.StringVar(&c.registry, "registry", "", "registry URI: file:///abs/path.yaml or zk://host:port (required)")
	fs.StringVar(&c.group, "group", "", "client group id (required)")
	fs.StringVar(&c.topic, "topic", "", "topic (required)")
	fs.StringVar(&c.msgType, "type", "", "message type (for consume -bind regx: the regex)")
	fs.StringVar(&c.secret, "secret", "123456", "secret key sent in ConnMeta")
	fs.StringVar(&c.idsOut, "ids-out", "", "file to write one line per message (see README)")
	return fs
}

func (c *common) check(needType bool) error {
	var missing []string
	if c.registry == "" {
		missing = append(missing, "-registry")
	}
	if c.group == "" {
		missing = append(missing, "-group")
	}
	if c.topic == "" {
		missing = append(missing, "-topic")
	}
	if needType && c.msgType == "" {
		missing = append(missing, "-type")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required flag(s): %s", strings.Join(missing, " "))
	}
	return nil
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// propFlags collects repeated -prop k=v.
type propFlags []kv

type kv struct{ k, v string }

func (p *propFlags) String() string { return fmt.Sprint(*p) }
func (p *propFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want k=v, got %q", s)
	}
	*p = append(*p, kv{k, v})
	return nil
}

// ---------------------------------------------------------------- output

var stdoutMu sync.Mutex

// emit writes one JSON object per line on stdout (v should be a struct whose first field
// is Event so that "event" comes first).
func emit(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Fatalf("marshal output: %v", err)
	}
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

// lineWriter appends lines to -ids-out (or discards them) safely from many goroutines.
type lineWriter struct {
	mu sync.Mutex
	f  *os.File
	w  io.Writer
}

func openLines(path string) (*lineWriter, error) {
	if path == "" {
		return &lineWriter{w: io.Discard}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &lineWriter{f: f, w: f}, nil
}

func (l *lineWriter) line(format string, a ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", a...)
}

func (l *lineWriter) close() error {
	if l.f == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// ---------------------------------------------------------------- client

func startClient(c *common, topics []string, binds []*kc.Binding, l kc.IListener, warmupSec int) (*kc.KiteQClient, error) {
	cl := kc.NewKiteQClientWithWarmup(context.Background(), c.registry, c.group, c.secret, warmupSec)
	if len(topics) > 0 {
		cl.SetTopics(topics)
	}
	if len(binds) > 0 {
		cl.SetBindings(binds)
	}
	cl.SetListener(l)
	if err := cl.Start(); err != nil {
		cl.Destroy()
		return nil, err
	}
	return cl, nil
}

// startProducer opens the -ids-out file and a client publishing to -topic with listener l (which
// answers transaction checks); release closes both.
func startProducer(c *common, l kc.IListener) (ids *lineWriter, cl *kc.KiteQClient, release func(), err error) {
	ids, err = openLines(c.idsOut)
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err = startClient(c, []string{c.topic}, nil, l, 0)
	if err != nil {
		ids.close()
		return nil, nil, nil, err
	}
	return ids, cl, func() { cl.Destroy(); ids.close() }, nil
}

// maxLoggedFailures caps the lines about failed sends: a broker outage would otherwise flood stderr.
const maxLoggedFailures = 20

// logSendFailure logs the nth failed send (1-based) while under maxLoggedFailures.
func logSendFailure(nth int64, what, id string, err error) {
	if nth <= maxLoggedFailures {
		log.Printf("%s %s failed: %v", what, id, err)
	}
}

// stopSignals fires on SIGINT/SIGTERM so that consume and uncommitted still print their
// final JSON line when the test stops them early.
func stopSignals() <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch
}

func elapsedMs(start time.Time) int64 { return time.Since(start).Milliseconds() }
