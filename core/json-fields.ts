/**
 * Readers for the small JSON APIs' request bodies (the manager's, preheat's): each takes a value
 * and its path in the document (`$.supernodes[2].idc`) and returns it typed, or throws a
 * `FieldFailure` naming the path, which the API's decoder turns into a decode-error answer.
 * Only plain objects and own data properties are read (no prototypes, no accessors).
 */
export interface Fields { value: object; path: string }

export class FieldFailure {
  constructor(readonly path: string, readonly message: string) {}
}

export function plain(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FieldFailure(path, 'expected an object');
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw new FieldFailure(path, 'expected a plain object');
  return { value, path };
}

export function read<T>(input: Fields, key: string, parse: (value: unknown, path: string) => T): T {
  const found = Object.getOwnPropertyDescriptor(input.value, key);
  const path = `${input.path}.${key}`;
  if (found === undefined) throw new FieldFailure(path, 'missing');
  if (!('value' in found)) throw new FieldFailure(path, 'accessor properties are not accepted');
  return parse(found.value, path);
}

export function optional<T>(input: Fields, key: string, fallback: T, parse: (value: unknown, path: string) => T): T {
  return Object.getOwnPropertyDescriptor(input.value, key) === undefined ? fallback : read(input, key, parse);
}
