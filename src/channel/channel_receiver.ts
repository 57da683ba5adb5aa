/**
 * The receiving side of a {@linkcode StreamChannel}: transport bytes into
 * the engine, its events out to the application (synchronously, through the
 * inbox), compressed messages through the inflater, and the peer's close or
 * violation to the core's close lifecycle.
 *
 * @module
 */
import type { ProtocolError } from "../engine/errors.ts";
import type { ProtocolEvent } from "../engine/protocol.ts";
import { failureReason } from "../engine/close_payload.ts";
import { handled } from "../_util/deferred.ts";
import type { ChannelCore, Receiver } from "./channel_core.ts";
import type { Message } from "./channel_types.ts";
import { inflateMessage, inflateMessageSync } from "./inflate_message.ts";
import { hasMessageBefore } from "./peer_failure.ts";
import type { PingAnswerer } from "./ping_messages.ts";

/**
 * Feeds one connection's bytes to its engine and dispatches the events.
 *
 * @example Two messages in one chunk reach the inbox in order
 * ```ts
 * import { ChannelCore } from "./channel_core.ts";
 * import { ChannelReceiver } from "./channel_receiver.ts";
 * import { Protocol } from "@wsc/websocket-channel/engine";
 * import { STREAM_CHANNEL_DEFAULTS } from "./stream_channel_options.ts";
 *
 * const receiver = new ChannelReceiver(undefined);
 * const core = new ChannelCore({ ...STREAM_CHANNEL_DEFAULTS, role: "client" }, receiver);
 * receiver.core = core;
 * core.protocol = new Protocol({ role: "client" });
 * const seen: unknown[] = [];
 * core.inbox.listen((message) => seen.push(message));
 * await Promise.resolve();
 * receiver.receive(new Uint8Array([0x81, 1, 0x61, 0x81, 1, 0x62]));
 * console.assert(seen.join() === "a,b");
 * ```
 */
export class ChannelReceiver implements Receiver {
  /** The channel; set once, right after both are created. */
  core!: ChannelCore;
  readonly #answerPing: PingAnswerer | undefined;

  /** @param answerPing Answers application-level ping messages (`answerPingMessages`). */
  constructor(answerPing: PingAnswerer | undefined) {
    this.#answerPing = answerPing;
  }

  /**
   * Feeds bytes to the engine; returns a promise only when a message must be
   * inflated or a failure waits for the application's answers.
   */
  receive(chunk: Uint8Array): Promise<void> | undefined {
    return this.#dispatch(this.core.protocol!.receive(chunk));
  }

  /** As {@linkcode receive}, for bytes read into the engine's read target. */
  receiveInTarget(length: number): Promise<void> | undefined {
    return this.#dispatch(this.core.protocol!.receiveInTarget(length));
  }

  #dispatch(events: ProtocolEvent[]): Promise<void> | undefined {
    const core = this.core;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      switch (event.type) {
        case "text":
        case "binary":
          this.#deliver(event.data);
          break;
        case "pong":
          core.pings?.pong(event.data);
          break;
        case "compressed": {
          // On the calling thread when the codec can; else this and what follows wait for it.
          let message: Message | undefined;
          try {
            message = inflateMessageSync(core.deflate!, event, core.settings.maxMessageSize);
          } catch (error) {
            return this.#inflateFailed(error as ProtocolError, events, i);
          }
          if (message === undefined) return this.#receiveAsync(events, i);
          this.#deliver(message);
          break;
        }
        case "error":
          return this.#onEngineError(event.error, events, i);
        case "close":
          return core.onCloseFrame(hasMessageBefore(events, i));
          // "ping": the engine already queued the pong.
      }
    }
    core.flushOwed();
    return undefined;
  }

  async #receiveAsync(events: ProtocolEvent[], from: number): Promise<void> {
    const core = this.core;
    for (let i = from; i < events.length; i++) {
      const event = events[i];
      if (event.type === "error") return this.#onEngineError(event.error, events, i);
      if (event.type === "close") return core.onCloseFrame(hasMessageBefore(events, i));
      if (event.type === "text" || event.type === "binary") this.#deliver(event.data);
      else if (event.type === "pong") core.pings?.pong(event.data);
      if (event.type !== "compressed") continue;
      let message: Message;
      try {
        message = await inflateMessage(core.deflate!, event, core.settings.maxMessageSize);
      } catch (error) {
        if (core.closed()) return;
        return this.#inflateFailed(error as ProtocolError, events, i);
      }
      if (core.closed()) return;
      this.#deliver(message);
    }
    core.flushOwed();
  }

  /** Inflating a message failed: the connection fails with its code once earlier answers went out. */
  #inflateFailed(
    failure: ProtocolError,
    events: ProtocolEvent[],
    index: number,
  ): Promise<void> | undefined {
    const core = this.core;
    core.flushOwed();
    return core.peerFailure().fail(failure, {
      reason: "",
      messagesBefore: hasMessageBefore(events, index),
      failEngine: () => core.protocol!.fail(failure.closeCode, ""),
    });
  }

  /** The engine found a violation (it stopped reading; its close waits for failNow()). */
  #onEngineError(
    error: ProtocolError,
    events: ProtocolEvent[],
    index: number,
  ): Promise<void> | undefined {
    const core = this.core;
    // Pongs owed for pings earlier in the batch go out first.
    core.flushOwed();
    // failNow() sends the error's message as the close reason when it fits (RFC 6455 §5.5).
    return core.peerFailure().fail(error, {
      reason: failureReason(error),
      messagesBefore: hasMessageBefore(events, index),
      failEngine: () => core.protocol!.failNow(),
    });
  }

  #deliver(message: Message): void {
    const pong = this.#answerPing?.(message);
    if (pong !== undefined) return void handled(this.core.send(pong));
    this.core.inbox.push(message);
  }
}
