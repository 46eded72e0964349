// The few assertions the tests need, on node:assert (built into Deno; jsr:@std/assert cannot
// be fetched everywhere the toolkit runs).
import nodeAssert from "node:assert";

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  nodeAssert.ok(condition, message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  // Deno's node:assert refuses an explicit undefined message.
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(err: unknown, cls?: ErrorClass<E>, includes?: string): E {
  if (cls && !(err instanceof cls)) {
    throw new nodeAssert.AssertionError({ message: `expected ${cls.name}, got ${String(err)}` });
  }
  if (includes && !(err instanceof Error && err.message.includes(includes))) {
    throw new nodeAssert.AssertionError({
      message: `expected a message including ${includes}, got ${String(err)}`,
    });
  }
  return err as E;
}

export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, cls, includes);
  }
  throw new nodeAssert.AssertionError({ message: "expected a rejection" });
}

export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  cls?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (err) {
    return checkError(err, cls, includes);
  }
  throw new nodeAssert.AssertionError({ message: "expected an exception" });
}
