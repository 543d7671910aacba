/** A TCP listener that wraps every accepted socket in a Connection. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { Connection, type ConnectionOptions, type TrafficCounters } from './connection.ts'

export interface TcpServerOptions extends ConnectionOptions {
  host: string
  port: number
  onConnection: (connection: Connection, socket: Socket) => void
}

export interface TcpServer {
  readonly host: string
  readonly port: number
  /** Live connections. */
  readonly connections: ReadonlySet<Connection>
  /** Frames read and written by every connection since the server started. */
  readonly traffic: Readonly<TrafficCounters>
  /** Stops accepting; open connections are left to the caller (see closeAll). */
  stopAccepting(): Promise<void>
  /** Closes every open connection (gracefully unless a reason is given). */
  closeAll(reason?: Error): void
}

export function configureSocket(socket: Socket): void {
  socket.setNoDelay(true)
  socket.setKeepAlive(true, 20_000)
}

export function listenTcp(options: TcpServerOptions): Promise<TcpServer> {
  const connections = new Set<Connection>()
  const traffic: TrafficCounters = { framesRead: 0, framesWritten: 0 }
  const server: Server = createServer((socket) => {
    configureSocket(socket)
    const label = `${socket.remoteAddress}:${socket.remotePort}`
    const connection = new Connection(socket, { ...options, label, traffic })
    connections.add(connection)
    connection.once('close', () => connections.delete(connection))
    options.onConnection(connection, socket)
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: options.host, port: options.port }, () => {
      server.off('error', reject)
      const address = server.address() as AddressInfo
      resolve({
        host: address.address,
        port: address.port,
        connections,
        traffic,
        stopAccepting: () => new Promise<void>((done) => server.close(() => done())),
        closeAll: (reason?: Error) => {
          for (const c of [...connections]) c.close(reason)
        },
      })
    })
  })
}
