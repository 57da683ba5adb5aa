/**
 * Live results of the outside mode (external.ts): the `@@result` lines of every fuzzer process of a
 * run (wstest_driver.py prints one per graded case), and one progress line per case group.
 *
 * @example
 * ```ts
 * const progress = new Progress(["1.1.1"]);
 * progress.line('@@result {"id": "1.1.1", "behavior": "OK", "behaviorClose": "OK", "duration": 2, "remoteCloseCode": 1000}');
 * ```
 * @module
 */
import {
  caseGroup,
  type CaseRecord,
  countBehaviors,
  countLine,
  type ExternalOutcome,
} from "./external_report.ts";

/**
 * Collects `@@result` lines (of every fuzzer process of a run) and prints one progress line per case
 * group as soon as all its cases have a result; {@link flush} prints the groups left incomplete.
 */
export class Progress {
  readonly results: Record<string, CaseRecord> = {};
  readonly order: string[] = [];
  /** When each group saw its first case start, and its last result. */
  private readonly began = new Map<string, number>();
  private readonly ended = new Map<string, number>();
  private readonly printed = new Set<string>();
  private lastResultAt = Date.now();
  onResult?: (record: CaseRecord) => void;
  constructor(private readonly planned: readonly string[]) {}

  /** Cases whose connection reached the fuzzer (its "Running test case ID" line). */
  readonly connected = new Set<string>();

  line(line: string): void {
    const running = line.match(/^Running test case ID (\S+) for agent/);
    if (running) {
      this.connected.add(running[1]);
      if (!this.began.has(caseGroup(running[1]))) this.began.set(caseGroup(running[1]), Date.now());
    }
    if (!line.startsWith("@@result ")) return;
    let record: CaseRecord;
    try {
      record = JSON.parse(line.slice(9));
    } catch {
      return;
    }
    if (record.resultClose?.includes("opening handshake was never completed")) {
      record.duration = 0; // wstest reports "now - 0" when the case never started
      record.note = record.openHandshakeTimeout
        ? "no answer to the opening handshake (timed out)"
        : "the opening handshake never completed";
    }
    this.record(record);
  }

  record(record: CaseRecord): void {
    const group = caseGroup(record.id);
    // Without a "Running test case" line (the fuzzing client prints none), a group begins when
    // the result before its first one came in.
    if (!this.began.has(group)) this.began.set(group, this.lastResultAt);
    this.lastResultAt = Date.now();
    this.ended.set(group, this.lastResultAt);
    this.results[record.id] = record;
    this.order.push(record.id);
    this.onResult?.(record);
    const ids = this.planned.filter((id) => caseGroup(id) === group);
    if (ids.every((id) => id in this.results)) this.print(group);
  }

  /** Prints the line of every group that has results but was not printed yet (an incomplete run). */
  flush(): void {
    for (const group of new Set(this.planned.map(caseGroup))) {
      if (this.ended.has(group)) this.print(group);
    }
  }

  private print(group: string): void {
    if (this.printed.has(group)) return;
    this.printed.add(group);
    const ids = this.planned.filter((id) => caseGroup(id) === group);
    const done = ids.filter((id) => id in this.results);
    const bad = done.filter((id) => this.results[id].behavior === "FAILED");
    const counts = countBehaviors({ results: this.results } as ExternalOutcome, done);
    const ms = this.ended.get(group)! - this.began.get(group)!;
    console.log(
      `  ${group.padEnd(7)} ${`${done.length}/${ids.length}`.padStart(7)}  ${
        countLine(counts).padEnd(34)
      } ${(ms / 1000).toFixed(1).padStart(6)}s${bad.length ? `  FAILED: ${bad.join(", ")}` : ""}`,
    );
  }
}
