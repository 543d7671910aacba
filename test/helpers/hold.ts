/**
 * A point an operation stops at until the test lets it go: `entered` resolves once the operation
 * got there, `letGo()` lets it on. For stores made slow at one chosen call.
 */
export class Hold {
  readonly entered: Promise<void>
  readonly letGo: () => void
  readonly #open: Promise<void>
  readonly #arrive: () => void

  constructor() {
    let letGo!: () => void
    let arrive!: () => void
    this.#open = new Promise<void>((resolve) => (letGo = resolve))
    this.entered = new Promise<void>((resolve) => (arrive = resolve))
    this.letGo = letGo
    this.#arrive = arrive
  }

  /** What the held operation awaits: notes that it arrived, resolves once let go. */
  pass(): Promise<void> {
    this.#arrive()
    return this.#open
  }
}
