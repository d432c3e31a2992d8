/**
 * A benchmark flag's value, parsed before any work starts: a malformed value exits with status 2
 * and a line naming the benchmark and the flag (`bench:floor: --bytes: invalid size "x" ...`),
 * rather than a stack trace after minutes of setup.
 */
export function flagValue<T>(bench: string, flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    console.error(`${bench}: ${flag}: ${(err as Error).message}`);
    process.exit(2);
  }
}

/** A whole number of at least `min`, or a thrown error saying so (for flagValue). */
export function wholeNumberAtLeast(text: string, min: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new Error(`expected a whole number >= ${min}, got "${text}"`);
  return value;
}
