package kiteclient

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"gopkg.in/yaml.v3"
)

// registry is the subset of kiteq-common's registry.Registry that a client uses.
type registry interface {
	PublishTopics(topics []string, groupId, hostname string) error
	PublishBindings(groupId string, binds []*Binding) error
	// GetQServerAndWatch lists the broker addresses serving topic; onChange (may be nil)
	// receives later changes.
	GetQServerAndWatch(topic string, onChange func(topic string, hosts []string)) ([]string, error)
	Close()
}

func newRegistry(uri string) (registry, error) {
	switch {
	case strings.HasPrefix(uri, "file://"):
		return newFileRegistry(strings.TrimPrefix(uri, "file://"))
	case strings.HasPrefix(uri, "zk://"):
		u, err := url.Parse(uri)
		if err != nil {
			return nil, err
		}
		return newZkRegistry(strings.Split(u.Host, ","))
	default:
		return nil, fmt.Errorf("unsupported registry uri %q (want file://<yaml> or zk://host:port[,host:port])", uri)
	}
}

// ---------------------------------------------------------------- file registry

// FileBroker / FileBinding / FileRegistryInfo use the yaml keys of kiteq-common's
// registry_file.go (gopkg.in/yaml.v3).
type FileBroker struct {
	Topics  []string `yaml:"topics"`
	Address string   `yaml:"address"`
	Env     string   `yaml:"env"`
}

type FileBinding struct {
	GroupIds    []string `yaml:"groupIds"`
	Topic       string   `yaml:"topic"`
	MessageType string   `yaml:"messageType"`
	BindType    string   `yaml:"bindType"`
	Watermark   int32    `yaml:"watermark"`
	Persistent  bool     `yaml:"persistent"`
}

type FileRegistryInfo struct {
	Brokers  []*FileBroker  `yaml:"brokers"`
	Bindings []*FileBinding `yaml:"bindings"`
}

type fileRegistry struct {
	path string
	info FileRegistryInfo
}

func newFileRegistry(p string) (*fileRegistry, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("file registry: %w", err)
	}
	var info FileRegistryInfo
	if err := yaml.Unmarshal(raw, &info); err != nil {
		return nil, fmt.Errorf("file registry %s: %w", p, err)
	}
	seen := map[string]bool{}
	for _, b := range info.Brokers {
		if seen[b.Address] {
			return nil, fmt.Errorf("file registry %s: duplicate broker address %s", p, b.Address)
		}
		seen[b.Address] = true
	}
	return &fileRegistry{path: p, info: info}, nil
}

func (f *fileRegistry) PublishTopics([]string, string, string) error { return nil }
func (f *fileRegistry) PublishBindings(string, []*Binding) error     { return nil }
func (f *fileRegistry) Close()                                       {}

// GetQServerAndWatch keeps the original's behaviour of binary-searching each broker's
// topic list (sort.SearchStrings), so topic lists in the YAML must be sorted.
func (f *fileRegistry) GetQServerAndWatch(topic string, _ func(string, []string)) ([]string, error) {
	var hosts []string
	for _, b := range f.info.Brokers {
		i := sort.SearchStrings(b.Topics, topic)
		if i < len(b.Topics) && b.Topics[i] == topic {
			hosts = append(hosts, b.Address)
		} else if containsString(b.Topics, topic) {
			logf("file registry: broker %s lists topic %q but its topic list is not sorted; "+
				"the Go client's binary search misses it (sort the list)", b.Address, topic)
		}
	}
	return hosts, nil
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- zookeeper registry

const (
	zkServer = "/kiteq/server"
	zkPub    = "/kiteq/pub"
	zkSub    = "/kiteq/sub"
)

type zkRegistry struct {
	c    *zk.Conn
	mu   sync.Mutex
	stop chan struct{}
}

type stderrZkLogger struct{}

func (stderrZkLogger) Printf(format string, a ...interface{}) {
	if verbose {
		logf("zk: "+format, a...)
	}
}

func newZkRegistry(hosts []string) (*zkRegistry, error) {
	c, _, err := zk.Connect(hosts, 5*time.Second, zk.WithLogger(stderrZkLogger{}))
	if err != nil {
		return nil, fmt.Errorf("zk connect %v: %w", hosts, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("zk %v: no session after 10s (state %v)", hosts, c.State())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &zkRegistry{c: c, stop: make(chan struct{})}, nil
}

func (z *zkRegistry) ensure(p string) error {
	if p == "/" || p == "" {
		return nil
	}
	ok, _, err := z.c.Exists(p)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	if err := z.ensure(path.Dir(p)); err != nil {
		return err
	}
	_, err = z.c.Create(p, nil, 0, zk.WorldACL(zk.PermAll))
	if errors.Is(err, zk.ErrNodeExists) {
		return nil
	}
	return err
}

func (z *zkRegistry) PublishTopics(topics []string, groupId, hostname string) error {
	for _, t := range topics {
		if err := z.ensure(fmt.Sprintf("%s/%s/%s/%s", zkPub, t, groupId, hostname)); err != nil {
			return fmt.Errorf("publish topic %s: %w", t, err)
		}
	}
	return nil
}

func (z *zkRegistry) PublishBindings(groupId string, binds []*Binding) error {
	byTopic := map[string][]*Binding{}
	var order []string
	for _, b := range binds {
		if _, ok := byTopic[b.Topic]; !ok {
			order = append(order, b.Topic)
		}
		byTopic[b.Topic] = append(byTopic[b.Topic], b)
	}
	for _, t := range order {
		data, err := MarshalBinds(byTopic[t])
		if err != nil {
			return err
		}
		p := fmt.Sprintf("%s/%s/%s-bind", zkSub, t, groupId)
		if err := z.ensure(path.Dir(p)); err != nil {
			return err
		}
		_, err = z.c.Create(p, data, 0, zk.WorldACL(zk.PermAll))
		if errors.Is(err, zk.ErrNodeExists) {
			_, err = z.c.Set(p, data, -1)
		}
		if err != nil {
			return fmt.Errorf("publish bindings %s: %w", p, err)
		}
	}
	return nil
}

func (z *zkRegistry) GetQServerAndWatch(topic string, onChange func(string, []string)) ([]string, error) {
	p := zkServer + "/" + topic
	hosts, ev, err := z.childrenW(p)
	if err != nil {
		return nil, err
	}
	if onChange != nil {
		go func() {
			for {
				select {
				case <-z.stop:
					return
				case e, ok := <-ev:
					if !ok || e.Type == zk.EventNotWatching {
						return
					}
				}
				var err error
				var h []string
				for {
					h, ev, err = z.childrenW(p)
					if err == nil {
						break
					}
					select {
					case <-z.stop:
						return
					case <-time.After(time.Second):
					}
				}
				onChange(topic, h)
			}
		}()
	}
	return hosts, nil
}

// childrenW returns the children of p and a channel firing on the next change; a missing
// node yields no hosts and an existence watch.
func (z *zkRegistry) childrenW(p string) ([]string, <-chan zk.Event, error) {
	for {
		ok, _, ev, err := z.c.ExistsW(p)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, ev, nil
		}
		ch, _, ev2, err := z.c.ChildrenW(p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return ch, ev2, nil
	}
}

func (z *zkRegistry) Close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	select {
	case <-z.stop:
	default:
		close(z.stop)
		z.c.Close()
	}
}
