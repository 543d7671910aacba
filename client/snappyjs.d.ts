// snappyjs ships no types. Only the two functions we call, typed for the Buffer-in, Buffer-out use
// client/snappy.ts makes of them (given a Buffer, snappyjs returns a Buffer).
declare module 'snappyjs' {
  export function compress(uncompressed: Buffer): Buffer
  /** Throws when the declared length exceeds `maxLength`, or on some (not all) corrupt input. */
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer
}
