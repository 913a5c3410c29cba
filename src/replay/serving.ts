// What the Hubble and Goldmane replay servers share: releasing entries at a rate, streams that wait for
// more (or for a slow client to drain), and listening with or without TLS.
import * as grpc from '@grpc/grpc-js';
import { FlowwrightError } from '../model/index.js';

/** PEM contents. With `clientCa` the server requires client certificates signed by it (mTLS). */
export interface ReplayTls {
  cert: Buffer;
  key: Buffer;
  clientCa?: Buffer;
}

/** Responses are encoded once when the file is loaded and written as they are. */
export const passBytes = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export interface Release {
  /** Entries released so far. */
  released(): number;
  /** Set once the server is closing: open streams end. */
  closing(): boolean;
  /** Resolves when more entries are released, the server closes, or `wake` is called. */
  next(): Promise<void>;
  /** Writes to a stream; when the client's buffer is full, waits until it drains (or until woken). */
  write(call: grpc.ServerWritableStream<unknown, Uint8Array>, bytes: Uint8Array): Promise<void>;
  /** Wakes every waiting stream, e.g. one whose client cancelled. */
  wake(): void;
  /** Stops releasing and wakes every stream with `closing` set. */
  stop(): void;
}

/**
 * Without a rate every one of `total` entries is released at once; with a rate, that many per second
 * from now, like traffic that is happening now.
 */
export function releaseEntries(total: number, rate: number | undefined): Release {
  const startedAt = Date.now();
  let released = rate ? 0 : total;
  let closing = false;
  // Streams waiting for more entries or a drain; each is woken (and removed) when something moves.
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
    waiters.clear();
  };
  let pacer: NodeJS.Timeout | undefined;
  if (rate) {
    pacer = setInterval(() => {
      released = Math.min(total, Math.floor(((Date.now() - startedAt) / 1000) * rate));
      wake();
      if (released >= total) clearInterval(pacer);
    }, 10);
  }
  return {
    released: () => released,
    closing: () => closing,
    next: () => new Promise<void>((resolve) => waiters.add(resolve)),
    write: async (call, bytes) => {
      if (call.write(bytes)) return;
      await new Promise<void>((resolve) => {
        call.once('drain', resolve);
        waiters.add(resolve);
      });
    },
    wake,
    stop: () => {
      closing = true;
      if (pacer) clearInterval(pacer);
      wake();
    },
  };
}

export interface Listening {
  /** `host:port` as bound. */
  address: string;
  port: number;
  /** Ends open streams cleanly and stops listening. */
  close(): Promise<void>;
  /** Drops every connection at once, as a crashed server would. */
  kill(): void;
}

/** Binds `server` on host:port (0 picks a free port); a port that cannot be bound is a usage error. */
export function listen(
  server: grpc.Server,
  host: string,
  port: number,
  tls: ReplayTls | undefined,
  release: Release,
): Promise<Listening> {
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(
        tls.clientCa ?? null,
        [{ private_key: tls.key, cert_chain: tls.cert }],
        tls.clientCa !== undefined,
      )
    : grpc.ServerCredentials.createInsecure();
  const bindHost = host.includes(':') ? `[${host}]` : host;
  return new Promise((resolve, reject) => {
    server.bindAsync(`${bindHost}:${port}`, credentials, (err, bound) => {
      if (err) {
        release.stop();
        reject(new FlowwrightError('usage', `cannot listen on ${bindHost}:${port}: ${err.message}`));
        return;
      }
      resolve({
        address: `${bindHost}:${bound}`,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            // Waking the streams with `closing` set makes each of them end.
            release.stop();
            server.tryShutdown(() => done());
          }),
        kill: () => {
          release.stop();
          server.forceShutdown();
        },
      });
    });
  });
}
