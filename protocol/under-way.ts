/**
 * Counts pieces of work under way and tells when none is: what a graceful stop or close waits for
 * (the broker's packets being handled, the client's requests awaiting answers). `end` is a bound
 * function, so one instance serves every piece of work without a closure each.
 */
export class UnderWay {
  #count = 0
  #whenIdle: (() => void)[] = []

  get count(): number {
    return this.#count
  }

  begin(): void {
    this.#count++
  }

  readonly end = (): void => {
    if (--this.#count > 0) return
    const waiting = this.#whenIdle
    this.#whenIdle = []
    for (const resolve of waiting) resolve()
  }

  /** Resolves once nothing is under way (at once if nothing is now). */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((resolve) => this.#whenIdle.push(resolve))
  }
}
