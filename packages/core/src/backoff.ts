/**
 * Exponential backoff with full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog):
 * a random delay in [base/2, base] where base = min(maxMs, initialMs · 2^(attempt−1)).
 * @param attempt 1 for the first retry.
 * @returns delay in ms.
 */
export function backoffDelayMs(attempt: number, initialMs = 500, maxMs = 30_000): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** Resolves after `ms` milliseconds (or at once when `signal` aborts). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
