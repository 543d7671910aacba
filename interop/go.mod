module kiteq-ts/interop

go 1.26

require (
	github.com/go-zookeeper/zk v1.0.4
	github.com/golang/snappy v1.0.0
	google.golang.org/protobuf v1.36.12
	gopkg.in/yaml.v3 v3.0.1
)
