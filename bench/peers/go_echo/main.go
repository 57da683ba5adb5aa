// Closed-loop echo load generator in Go (gorilla/websocket), independent of
// the JavaScript runtimes it measures: N connections, each keeping W binary
// messages of S bytes in flight and sending a new one for every echo it gets
// back (checked for type and length); the replies to echoes read together go
// out in one write. Same arguments and output as
// client_ws.mjs: after the warm-up it prints "COUNTING", counts echoes for
// the given seconds, then prints one JSON line
// {"messages":…,"seconds":…,"bytes":…} and exits.
//
// Usage: go_echo --url ws://127.0.0.1:PORT/ [--size 20] [--window 16]
//
//	[--connections 10] [--seconds 3] [--warmup 1]
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var (
	counting atomic.Bool
	received atomic.Int64
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

// batchingConn passes writes straight through until batching starts (the
// handshake must go out at once); from then on frames collect in a buffer
// that flush() sends with one write, so a burst of echoes answered together
// costs one system call instead of one per message.
type batchingConn struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	out      *bufio.Writer
}

func (c *batchingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return c.Conn.Write(p)
	}
	return c.out.Write(p)
}

func (c *batchingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Flush()
}

// writeLoop sends the window, then one message per echo read: it takes every
// credit the reader has granted so far, writes that many messages and sends
// them with one flush.
func writeLoop(conn *websocket.Conn, raw *batchingConn, payload []byte, window int, credits chan int) {
	pending := window
	for {
		for i := 0; i < pending; i++ {
			if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				fail("write: %v", err)
			}
		}
		if err := raw.flush(); err != nil {
			fail("write: %v", err)
		}
		pending = <-credits
	drain:
		for {
			select {
			case n := <-credits:
				pending += n
			default:
				break drain
			}
		}
	}
}

// readLoop checks and counts every echo and grants the writer one message for it.
func readLoop(conn *websocket.Conn, size int, credits chan int) {
	buffer := make([]byte, size)
	var extra [1]byte
	for {
		kind, reader, err := conn.NextReader()
		if err != nil {
			fail("read: %v", err)
		}
		if kind != websocket.BinaryMessage {
			fail("echo is not binary (opcode %d)", kind)
		}
		if _, err := io.ReadFull(reader, buffer); err != nil {
			fail("echo shorter than %d bytes: %v", size, err)
		}
		if n, _ := reader.Read(extra[:]); n > 0 {
			fail("echo longer than %d bytes", size)
		}
		if counting.Load() {
			received.Add(1)
		}
		credits <- 1
	}
}

func main() {
	url := flag.String("url", "", "server URL, ws://host:port/")
	size := flag.Int("size", 20, "message size in bytes")
	window := flag.Int("window", 16, "messages in flight per connection")
	connections := flag.Int("connections", 10, "connections")
	seconds := flag.Float64("seconds", 3, "length of the counted window")
	warmup := flag.Float64("warmup", 1, "seconds of load before counting")
	flag.Parse()
	if *url == "" || *size < 1 || *window < 1 || *connections < 1 {
		fail("usage: go_echo --url ws://127.0.0.1:PORT/ [--size 20] [--window 16] [--connections 10] [--seconds 3] [--warmup 1]")
	}
	payload := make([]byte, *size)
	rand.Read(payload)
	var raws []*batchingConn
	// A write buffer that holds a whole frame, so every message goes out as one frame.
	dialer := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   min(max(*size+14, 4096), 1<<16),
		WriteBufferSize:  max(*size+14, 4096),
		NetDialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, address)
			if err != nil {
				return nil, err
			}
			raw := &batchingConn{Conn: conn, out: bufio.NewWriterSize(conn, 1<<16)}
			raws = append(raws, raw)
			return raw, nil
		},
	}
	conns := make([]*websocket.Conn, 0, *connections)
	for i := 0; i < *connections; i++ {
		conn, _, err := dialer.Dial(*url, nil)
		if err != nil {
			fail("connection %d: %v", i, err)
		}
		conns = append(conns, conn)
	}
	if len(raws) != len(conns) {
		fail("%d connections dialled for %d WebSockets", len(raws), len(conns))
	}
	for i, conn := range conns {
		raws[i].mu.Lock()
		raws[i].batching = true
		raws[i].mu.Unlock()
		// Room for every credit the window can produce, so the reader never waits on the writer.
		credits := make(chan int, *window)
		go readLoop(conn, *size, credits)
		go writeLoop(conn, raws[i], payload, *window, credits)
	}
	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	counting.Store(true)
	fmt.Println("COUNTING")
	start := time.Now()
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	counting.Store(false)
	elapsed := time.Since(start).Seconds()
	messages := received.Load()
	out, _ := json.Marshal(map[string]any{
		"messages": messages,
		"seconds":  elapsed,
		"bytes":    messages * int64(*size),
	})
	fmt.Println(string(out))
	os.Exit(0)
}
