// The topic <-> subject mapping of the NATS backplane: valid single-token
// subjects for any string, no collisions, one canonical subject per topic.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  NatsSubjectMapper,
  subjectToTopic,
  topicToSubject,
} from "../../src/backplane/nats_subject.ts";
import { SeededRandom } from "../_util/seeded_random.ts";
import { AWKWARD_TOPICS } from "./awkward_topics.ts";

test("topicToSubject: every awkward topic gives a valid, distinct subject that maps back", () => {
  const random = new SeededRandom(7);
  const topics = [...AWKWARD_TOPICS];
  for (let i = 0; i < 2000; i++) {
    let topic = "";
    const length = random.int(8);
    for (let j = 0; j < length; j++) {
      // Mostly ASCII, some Latin-1, BMP and surrogate code units.
      const pick = random.int(4);
      topic += String.fromCharCode(
        pick === 0 ? random.int(0x80) : pick === 1 ? random.int(0x100) : random.int(0x10000),
      );
    }
    topics.push(topic);
  }
  const bySubject = new Map<string, string>();
  for (const topic of topics) {
    const subject = topicToSubject(topic);
    const token = subject.slice("wsc.".length);
    assert.ok(subject.startsWith("wsc."), subject);
    // One non-empty token of characters every NATS tool accepts.
    assert.match(token, /^[A-Za-z0-9_-]+$/, JSON.stringify(topic));
    const other = bySubject.get(subject);
    assert.ok(other === undefined || other === topic, `${subject}: ${other} and ${topic}`);
    bySubject.set(subject, topic);
    assert.equal(subjectToTopic(subject), topic);
  }
  assert.equal(topicToSubject("room 1"), "wsc.room_201");
  assert.equal(topicToSubject("é😀", "app.ws."), "app.ws._E9__D83D__DE00");
});

test("subjectToTopic refuses subjects topicToSubject never makes", () => {
  for (
    const subject of [
      "wsc.",
      "other.a",
      "wsc.a.b",
      "wsc.a b",
      "wsc._41", // "A" escaped although it is literal
      "wsc.__00E9", // "é" in the wide form
      "wsc._2e", // lower-case hex
      "wsc._2",
      "wsc.__D83",
      "wsc._GG",
      "wsc.a_",
      "wsc.*",
      "wsc.>",
    ]
  ) {
    assert.equal(subjectToTopic(subject), undefined, subject);
  }
  assert.equal(subjectToTopic("x.y._", "x.y."), "");
});

test("NatsSubjectMapper checks the prefix and refuses subjects over 4,000 bytes", () => {
  for (const prefix of ["wsc", "a..", ".", "a b.", "*.", ">.", "a.*."]) {
    assert.throws(() => new NatsSubjectMapper(prefix), TypeError, prefix);
  }
  assert.equal(new NatsSubjectMapper("").toSubject("a.b"), "a_2Eb");
  const subjects = new NatsSubjectMapper("wsc.");
  const longest = "x".repeat(4000 - "wsc.".length);
  assert.equal(subjects.toSubject(longest), topicToSubject(longest));
  assert.throws(() => subjects.toSubject(`${longest}x`), RangeError);
  // Escaped units count three or six bytes; a multi-byte prefix counts its UTF-8 bytes.
  assert.throws(() => subjects.toSubject(" ".repeat(1333)), RangeError);
  assert.equal(subjects.toSubject(" ".repeat(1332)).length, 4000);
  const wide = new NatsSubjectMapper("é.");
  assert.throws(() => wide.toSubject("x".repeat(3998)), RangeError);
  assert.equal(wide.toSubject("x".repeat(3997)).length, 3999);
});
