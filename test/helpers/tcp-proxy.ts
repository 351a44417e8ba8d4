// A loopback TCP proxy a test can cut and restore, to make a server (the Pub/Sub emulator) unreachable without restarting it.
import net from 'node:net';

/**
 * How a cut behaves. `refuse`: open connections are destroyed and new ones refused, like a server
 * that is down (clients fail fast and retry). `blackhole`: connections stay open (new ones are
 * accepted) but no byte passes either way, like a network partition (calls hang until their own
 * timeouts); restore() lets the held bytes through, as a healed partition would.
 */
export type CutMode = 'refuse' | 'blackhole';

export interface TcpProxy {
  /** host:port to connect to instead of the target. */
  readonly address: string;
  /** Cuts the link until restore(); default mode `refuse`. */
  cut(mode?: CutMode): void;
  restore(): void;
  close(): Promise<void>;
}

interface Link {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [targetHost, targetPort] = splitHostPort(target);
  const sockets = new Set<net.Socket>();
  const links = new Set<Link>();
  let cutMode: CutMode | undefined;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const connect = (link: Link) => {
    if (!link.upstream) {
      const upstream = net.connect(targetPort, targetHost);
      link.upstream = upstream;
      track(upstream);
      link.client.on('close', () => upstream.destroy());
      upstream.on('close', () => link.client.destroy());
    }
    link.client.pipe(link.upstream).pipe(link.client);
  };
  const hold = (link: Link) => {
    link.client.unpipe();
    link.upstream?.unpipe();
    link.client.pause();
    link.upstream?.pause();
  };
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    if (cutMode === 'refuse') {
      client.destroy();
      return;
    }
    track(client);
    const link: Link = { client, upstream: undefined };
    links.add(link);
    client.on('close', () => links.delete(link));
    if (cutMode === undefined) connect(link);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    cut(mode: CutMode = 'refuse') {
      cutMode = mode;
      if (mode === 'refuse') for (const s of sockets) s.destroy();
      else for (const link of links) hold(link);
    },
    restore() {
      const wasBlackhole = cutMode === 'blackhole';
      cutMode = undefined;
      if (wasBlackhole) for (const link of links) connect(link);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
