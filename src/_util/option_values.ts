/**
 * A caller's options object read into a plain object, for options that may
 * be an instance of a class.
 *
 * @module
 */

const bind = Function.prototype.bind;

/**
 * The caller's options as a plain object, so that later copies
 * (`{ ...options }`) keep all of them: its own enumerable properties, as a
 * spread takes them, and each of the named `keys` read from the object
 * (inherited ones, getters and non-enumerable ones included). Nothing else
 * is read. Each function among `callbacks` is bound to the caller's object,
 * so a handler written as a method keeps its `this` (private fields
 * included) whichever copy calls it.
 *
 * @param options The options as the caller passed them.
 * @param keys The option names to read wherever the object has them.
 * @param callbacks Those of `keys` whose functions are called as methods.
 * @returns A new plain object; `options` is not changed.
 *
 * @example
 * ```ts
 * import { optionValues } from "./option_values.ts";
 *
 * class Handlers {
 *   #seen = 0;
 *   port = 0;
 *   onChannel(): number {
 *     return ++this.#seen;
 *   }
 * }
 * const copy = optionValues(new Handlers(), ["port", "onChannel"], ["onChannel"]);
 * // Taken off the copy, the method still runs on the instance.
 * const { port, onChannel } = copy;
 * console.assert(port === 0 && onChannel() === 1);
 * ```
 */
export function optionValues<T extends object>(
  options: T,
  keys: readonly string[],
  callbacks: readonly string[],
): T {
  const source = options as Record<string, unknown>;
  const copy: Record<string, unknown> = { ...source };
  for (const key of keys) {
    // What the spread took is not read again: a getter runs once.
    if (Object.hasOwn(copy, key)) continue;
    const value = source[key];
    if (value !== undefined) copy[key] = value;
  }
  for (const key of callbacks) {
    if (typeof copy[key] === "function") copy[key] = boundOption(options, copy[key]);
  }
  return copy as T;
}

/**
 * `value` bound to `options` when it is a function (a callback option
 * written as a method), else `value` itself.
 *
 * @param options The caller's options object.
 * @param value One of its options, as read from it.
 * @returns What to call in its place.
 *
 * @example
 * ```ts
 * import { boundOption } from "./option_values.ts";
 *
 * const options = {
 *   name: "room",
 *   label(): string {
 *     return this.name;
 *   },
 * };
 * const label = boundOption(options, options.label);
 * console.assert(label() === "room" && boundOption(options, 3) === 3);
 * ```
 */
export function boundOption<T>(options: object, value: T): T {
  return typeof value === "function" ? bind.call(value, options) as T : value;
}
