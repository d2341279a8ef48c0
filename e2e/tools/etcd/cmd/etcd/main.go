// Command etcd starts etcd's own server entry point; it exists so the e2e
// tests can build a pinned etcd from its Go module without a download site.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
