// Closed-loop echo load generator in Go (gorilla/websocket), independent of
// the JavaScript runtimes it measures: N connections, each keeping W binary
// messages of S bytes in flight and sending a new one for every echo it gets
// back (checked for type and length). Same arguments and output as
// client_ws.mjs: after the warm-up it prints "COUNTING", counts echoes for
// the given seconds, then prints one JSON line
// {"messages":…,"seconds":…,"bytes":…} and exits.
//
// Usage: go_echo --url ws://127.0.0.1:PORT/ [--size 20] [--window 16]
//
//	[--connections 10] [--seconds 3] [--warmup 1]
package main

import (
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
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

// echoLoop sends the window, then one message for every echo it reads.
func echoLoop(conn *websocket.Conn, payload []byte, window int) {
	buffer := make([]byte, len(payload))
	var extra [1]byte
	for i := 0; i < window; i++ {
		if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
			fail("write: %v", err)
		}
	}
	for {
		kind, reader, err := conn.NextReader()
		if err != nil {
			fail("read: %v", err)
		}
		if kind != websocket.BinaryMessage {
			fail("echo is not binary (opcode %d)", kind)
		}
		if _, err := io.ReadFull(reader, buffer); err != nil {
			fail("echo shorter than %d bytes: %v", len(payload), err)
		}
		if n, _ := reader.Read(extra[:]); n > 0 {
			fail("echo longer than %d bytes", len(payload))
		}
		if counting.Load() {
			received.Add(1)
		}
		if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
			fail("write: %v", err)
		}
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
	// A write buffer that holds a whole frame, so every message goes out as one frame.
	dialer := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   min(max(*size+14, 4096), 1<<16),
		WriteBufferSize:  max(*size+14, 4096),
	}
	conns := make([]*websocket.Conn, 0, *connections)
	for i := 0; i < *connections; i++ {
		conn, _, err := dialer.Dial(*url, nil)
		if err != nil {
			fail("connection %d: %v", i, err)
		}
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		go echoLoop(conn, payload, *window)
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
