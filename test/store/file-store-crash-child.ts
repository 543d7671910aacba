/**
 * Child process of the SIGKILL test: saves messages to the file store in argv[2] as fast as it
 * can, 50 at a time, and prints each id on its own line once save() resolved. The parent kills it
 * mid-stream and checks that every printed id survived. (stdout to a pipe is synchronous on Linux:
 * a printed id was acknowledged before the line left.)
 */
import { FileStore } from '../../store/file-store.ts'
import { makeMessage } from './conformance.ts'

const store = new FileStore({ dir: process.argv[2] })
await store.start()
async function worker(): Promise<void> {
  for (;;) {
    const m = makeMessage({ topic: 'crash', body: Buffer.alloc(512, 7) })
    await store.save(m)
    process.stdout.write(`${m.messageId}\n`)
  }
}
await Promise.all(Array.from({ length: 50 }, worker))
