// A Go WebSocket client for interop tests: `go_peer gorilla|coder URL COUNT`
// connects with permessage-deflate (gorilla/websocket: no context takeover,
// the only mode it has; coder/websocket: context takeover), sends COUNT
// JSON-like text messages above 1 KiB, checks each echo byte for byte and
// prints "OK <count> <extensions>", or the first failure and exits 1.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func check(i int, text bool, echo, message []byte) error {
	if !text || !bytes.Equal(echo, message) {
		return errorf("echo %d differs (%d bytes, want %d)", i, len(echo), len(message))
	}
	return nil
}

func gorillaRoundTrips(url string, messages [][]byte) (string, error) {
	dialer := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
	conn, response, err := dialer.Dial(url, nil)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.EnableWriteCompression(true)
	for i, message := range messages {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := conn.WriteMessage(websocket.TextMessage, message); err != nil {
			return "", errorf("write %d: %v", i, err)
		}
		kind, echo, err := conn.ReadMessage()
		if err != nil {
			return "", errorf("read %d: %v", i, err)
		}
		if err := check(i, kind == websocket.TextMessage, echo, message); err != nil {
			return "", err
		}
	}
	conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	return response.Header.Get("Sec-WebSocket-Extensions"), nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go_peer gorilla|coder URL COUNT")
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	messages := make([][]byte, count)
	for i := range messages {
		messages[i] = []byte(fmt.Sprintf(`{"id":%d,"user":"alice","items":"%s"}`, i, strings.Repeat("abcdefghij", 150+i)))
	}
	var extensions string
	if os.Args[1] == "coder" {
		extensions, err = coderRoundTrips(os.Args[2], messages)
	} else {
		extensions, err = gorillaRoundTrips(os.Args[2], messages)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, os.Args[1]+":", err)
		os.Exit(1)
	}
	fmt.Printf("OK %d %s\n", count, extensions)
}
