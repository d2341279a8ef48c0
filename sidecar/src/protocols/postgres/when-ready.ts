// A value that is usually at hand and sometimes has to be waited for (a
// guard's verdict: at once for statements the caches decide, later for one a
// reviewer must approve). Continuing synchronously when it is at hand keeps
// the common case off the promise machinery and in the same turn of the event
// loop.

/** `next(value)` now when `value` is at hand, or once it resolves. */
export function whenReady<T, R>(value: T | Promise<T>, next: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(next) : next(value);
}
