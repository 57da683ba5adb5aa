package main

import (
	"context"
	"time"

	"github.com/coder/websocket"
)

// coderRoundTrips is the same exchange as gorilla's through coder/websocket with context takeover.
func coderRoundTrips(url string, messages [][]byte) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, response, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		CompressionMode:      websocket.CompressionContextTakeover,
		CompressionThreshold: 1,
	})
	if err != nil {
		return "", err
	}
	defer conn.Close(websocket.StatusNormalClosure, "")
	conn.SetReadLimit(1 << 24)
	for i, message := range messages {
		if err := conn.Write(ctx, websocket.MessageText, message); err != nil {
			return "", errorf("write %d: %v", i, err)
		}
		kind, echo, err := conn.Read(ctx)
		if err != nil {
			return "", errorf("read %d: %v", i, err)
		}
		if err := check(i, kind == websocket.MessageText, echo, message); err != nil {
			return "", err
		}
	}
	return response.Header.Get("Sec-WebSocket-Extensions"), nil
}
