/**
 * Command types (the `cmdType` byte of every frame). 0x01–0x12 are KiteQ's own and identical in all
 * of its wire eras; 0x20 and up are KiteQ-TS extensions, which KiteQ brokers and clients ignore.
 */
export const Cmd = {
  HEARTBEAT: 0x01,
  CONN_META: 0x02,
  CONN_AUTH: 0x03,
  MESSAGE_STORE_ACK: 0x04,
  DELIVER_ACK: 0x05,
  TX_ACK: 0x06,
  BYTES_MESSAGE: 0x11,
  STRING_MESSAGE: 0x12,

  // --- KiteQ-TS extensions (see protocol/README.md) ---
  /** client → broker: the client's bindings as KiteQ binding JSON (standalone mode, no registry). */
  BIND: 0x20,
  /** broker → client: answer to BIND. */
  BIND_ACK: 0x21,
  /** client → broker: cancel or reschedule a stored message. */
  SCHEDULE: 0x22,
  /** broker → client: answer to SCHEDULE, saying exactly what happened. */
  SCHEDULE_ACK: 0x23,
} as const

export type CmdType = (typeof Cmd)[keyof typeof Cmd]

/** First command number free for extensions. */
export const FIRST_EXTENSION_CMD = 0x20

export const TxStatus = { UNKNOWN: 0, COMMIT: 1, ROLLBACK: 2 } as const
export type TxStatusValue = (typeof TxStatus)[keyof typeof TxStatus]

const names = new Map<number, string>(Object.entries(Cmd).map(([name, value]) => [value, name]))

export function cmdName(cmdType: number): string {
  return names.get(cmdType) ?? `UNKNOWN(0x${cmdType.toString(16).padStart(2, '0')})`
}

export function isMessageCmd(cmdType: number): boolean {
  return cmdType === Cmd.BYTES_MESSAGE || cmdType === Cmd.STRING_MESSAGE
}
