/**
 * Checks of option values, shared by the entry points (`connect()`,
 * `serve()` and the handlers, the reconnecting client): a wrong type throws
 * a `TypeError`, a value out of range a `RangeError`, both at the call and
 * naming the option.
 *
 * @module
 */
import { describeValue } from "./sendable.ts";

/** The range a numeric option must be in. */
export interface NumberRange {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Values must be greater than this (exclusive). */
  above?: number;
  /** Largest allowed value (inclusive). @default {Infinity} */
  max?: number;
  /** Whether the value must be an integer (`Infinity` allowed when `max` is). */
  integer?: boolean;
}

/**
 * Longest timer delay that every runtime honours (larger ones fire at once
 * in Node).
 *
 * @example
 * ```ts
 * import { MAX_TIMEOUT } from "./option_checks.ts";
 *
 * console.assert(MAX_TIMEOUT === 2 ** 31 - 1);
 * ```
 */
export const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Throws unless `value` is `undefined` or a number within `range`.
 *
 * @param name The option's name, for the message.
 * @param value The value given.
 * @param range The allowed range.
 * @throws {TypeError} When `value` is not a number.
 * @throws {RangeError} When it is out of range (`NaN` included).
 *
 * @example
 * ```ts
 * import { checkNumberOption } from "./option_checks.ts";
 *
 * checkNumberOption("connectTimeout", 5000, { above: 0 });
 * try {
 *   checkNumberOption("connectTimeout", -1, { above: 0 });
 * } catch (error) {
 *   console.assert(error instanceof RangeError);
 * }
 * ```
 */
export function checkNumberOption(name: string, value: unknown, range: NumberRange): void {
  if (value === undefined) return;
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  const { min, above, max = Infinity, integer = false } = range;
  const inRange = (min === undefined || value >= min) &&
    (above === undefined || value > above) && value <= max &&
    (!integer || Number.isInteger(value) || value === Infinity);
  if (!inRange) {
    const bounds = [
      min !== undefined ? `at least ${min}` : "",
      above !== undefined ? `more than ${above}` : "",
      max !== Infinity ? `at most ${max}` : "",
    ].filter(Boolean).join(" and ");
    throw new RangeError(
      `${name} must be ${integer ? "an integer " : "a number "}${bounds}, got ${value}`,
    );
  }
}

/**
 * Throws a `TypeError` unless `value` is `undefined` or one of `allowed`.
 *
 * @example
 * ```ts
 * import { checkChoiceOption } from "./option_checks.ts";
 *
 * checkChoiceOption("transport", "auto", ["auto", "native", "engine"]);
 * ```
 */
export function checkChoiceOption(
  name: string,
  value: unknown,
  allowed: readonly unknown[],
): void {
  if (value === undefined || allowed.includes(value)) return;
  throw new TypeError(
    `${name} must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}, got ${
      describeValue(value)
    }`,
  );
}

/**
 * Throws a `TypeError` unless `value` is `undefined` or of type `type`
 * (`"function"`, `"boolean"`, `"string"`, `"object"`; `null` is not an object here).
 *
 * @example
 * ```ts
 * import { checkTypeOption } from "./option_checks.ts";
 *
 * checkTypeOption("onChannel", () => {}, "function");
 * ```
 */
export function checkTypeOption(
  name: string,
  value: unknown,
  type: "function" | "boolean" | "string" | "object",
): void {
  if (value === undefined || (typeof value === type && value !== null)) return;
  throw new TypeError(`${name} must be a ${type}, got ${describeValue(value)}`);
}
