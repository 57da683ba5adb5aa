/**
 * A caller's options object read into a plain object, for options that may
 * be an instance of a class.
 *
 * @module
 */

/**
 * The caller's options as a plain object of their values, so that later
 * copies (`{ ...options }`) keep all of them: own enumerable properties as a
 * spread takes them, and for an instance of a class also what it inherits
 * (methods, getters; read once, nearest first, `constructor` left out).
 * Every function is bound to the caller's object: a handler written as a
 * method keeps its `this` (private fields included), whichever copy calls it.
 *
 * @param options The options as the caller passed them.
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
 * const copy = { ...optionValues(new Handlers()) };
 * console.assert(copy.port === 0 && copy.onChannel() === 1);
 * ```
 */
export function optionValues<T extends object>(options: T): T {
  const source = options as Record<PropertyKey, unknown>;
  const copy: Record<PropertyKey, unknown> = {};
  const take = (key: PropertyKey) => {
    const value = source[key];
    // Defined, not assigned: a key named "__proto__" stays a plain property, as in a spread.
    Object.defineProperty(copy, key, {
      value: typeof value === "function" ? value.bind(options) : value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  };
  for (const key of Reflect.ownKeys(options)) {
    if (Object.prototype.propertyIsEnumerable.call(options, key)) take(key);
  }
  for (
    let level = Object.getPrototypeOf(options);
    level !== null && level !== Object.prototype;
    level = Object.getPrototypeOf(level)
  ) {
    for (const key of Reflect.ownKeys(level)) {
      if (key !== "constructor" && !Object.hasOwn(copy, key) && !Object.hasOwn(options, key)) {
        take(key);
      }
    }
  }
  return copy as T;
}
