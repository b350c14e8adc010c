// A client-go test program for Skiff (issue 14, acceptance 4): the calls Go controllers make
// every day — discovery, typed and dynamic clients, an informer with resync, list pagination,
// server-side apply, watch bookmarks and streaming lists, patches on the scale and status
// subresources. Usage: clientgo KUBECONFIG NAMESPACE. Prints "ok <step>" per step and exits 1
// with "FAIL <step>: <why>" on the first failure.
package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

var (
	ns  string
	ctx context.Context
)

func fail(step string, format string, args ...any) {
	fmt.Printf("FAIL %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func check(step string, err error) {
	if err != nil {
		fail(step, "%v", err)
	}
}

func ok(step string) { fmt.Printf("ok %s\n", step) }

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: clientgo KUBECONFIG NAMESPACE")
		os.Exit(2)
	}
	ns = os.Args[2]
	var cancel context.CancelFunc
	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := connect(os.Args[1])
	discovery(c)
	namespace(c)
	informer(c)
	pagination(c)
	serverSideApply(c)
	subresources(c)
	dynamicClient(c)
	watchList(c)
	fmt.Println("ALL OK")
}
