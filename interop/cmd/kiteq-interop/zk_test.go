package main

import (
	"encoding/json"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"kiteq-ts/interop/internal/fakebroker"

	"github.com/go-zookeeper/zk"
)

// TestZkRegistry needs a ZooKeeper: KITEQ_INTEROP_ZK=127.0.0.1:2182 go test ./...
func TestZkRegistry(t *testing.T) {
	hostport := os.Getenv("KITEQ_INTEROP_ZK")
	if hostport == "" {
		t.Skip("KITEQ_INTEROP_ZK not set")
	}
	b, err := fakebroker.Start([]fakebroker.Binding{{Group: "s-zk", Topic: "trade-zk", MessageType: "m"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, _, err := zk.Connect([]string{hostport}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mk := func(p string, flags int32) {
		parts := strings.Split(strings.Trim(p, "/"), "/")
		for i := range parts {
			q := "/" + path.Join(parts[:i+1]...)
			f := int32(0)
			if i == len(parts)-1 {
				f = flags
			}
			if _, err := c.Create(q, nil, f, zk.WorldACL(zk.PermAll)); err != nil && err != zk.ErrNodeExists {
				t.Fatalf("create %s: %v", q, err)
			}
		}
	}
	// what a broker publishes: ephemeral /kiteq/server/{topic}/{host:port}
	mk("/kiteq/server/trade-zk/"+b.Addr, zk.FlagEphemeral)

	reg := "zk://" + hostport
	wait := startConsumer(t, "-registry", reg, "-group", "s-zk", "-topic", "trade-zk", "-type", "m",
		"-expect", "5", "-timeout", "20s", "-watermark", "2000", "-persistent=false")
	p := run(t, "produce", "-registry", reg, "-group", "p-zk", "-topic", "trade-zk", "-type", "m", "-n", "5",
		"-kind", "bytes", "-snappy")
	if p.code != 0 {
		t.Fatalf("produce over zk: %+v", p)
	}
	r := wait()
	if r.code != 0 || num(r.last("consumed"), "corrupt") != 0 {
		t.Fatalf("consume over zk: %+v", r)
	}
	data, _, err := c.Get("/kiteq/sub/trade-zk/s-zk-bind")
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"groupId":"s-zk","topic":"trade-zk","messageType":"m","bindType":0,"version":"1.0.0","watermark":2000,"persistent":false}]`
	if string(data) != want {
		t.Fatalf("binding JSON\n got %s\nwant %s", data, want)
	}
	var binds []map[string]interface{}
	if err := json.Unmarshal(data, &binds); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if ok, _, _ := c.Exists("/kiteq/pub/trade-zk/p-zk/" + host); !ok {
		t.Fatal("producer did not publish /kiteq/pub/trade-zk/p-zk/<hostname>")
	}
}
