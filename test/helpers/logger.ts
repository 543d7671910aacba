/** A logger keeping its debug lines, so a test can wait for a code path it cannot otherwise see. */
import { silentLogger, type Logger } from '../../protocol/logger.ts'

export function debugRecorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = []
  const logger: Logger = {
    ...silentLogger,
    debug: (obj: object | string, msg?: string) => { lines.push(typeof obj === 'string' ? obj : msg ?? '') },
    child: () => logger,
  }
  return { logger, lines }
}
