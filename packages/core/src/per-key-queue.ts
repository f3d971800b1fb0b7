/**
 * Runs tasks one at a time per key, in call order, within this process — e.g. the updates of one
 * task's state, or the syntheses of one task. Keys with nothing queued hold no memory.
 */
export class PerKeyQueue {
  /** Per key, the end of its chain of tasks (settled, never rejected). */
  readonly #tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` once every earlier task of `key` has settled. `task` is told whether it had to
   * wait for another. `task` must not queue on the same key itself (it would wait for itself).
   * @returns what `task` returns; rejects as it rejects.
   */
  async run<T>(key: string, task: (waited: boolean) => Promise<T>): Promise<T> {
    const earlier = this.#tails.get(key);
    const run = earlier ? earlier.then(() => task(true)) : task(false);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    }
  }
}
