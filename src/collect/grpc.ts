// What the live gRPC collectors (Hubble Relay, Goldmane) share: address syntax, TLS credentials,
// backoff with jitter, waiting for a connection, and one-line descriptions of gRPC errors.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { inputError, usageError } from '../model/index.js';

export interface GrpcTlsOptions {
  /** PEM file of the CA that signed the server certificate. */
  ca?: string;
  /** Client certificate and key (PEM files) for servers that require mTLS. */
  cert?: string;
  key?: string;
  /** Name to verify in the server certificate when it differs from the host. */
  serverName?: string;
  /** Encrypt but do not verify the server certificate. For tests and emergencies only. */
  insecureSkipVerify?: boolean;
}

export interface HostPort {
  host: string;
  port: number;
  /** The gRPC target: `host:port`, or `[v6]:port`. */
  target: string;
}

/**
 * Checks `host:port` syntax (or `[ipv6]:port`, or a bare host) and fills in `defaultPort`. Errors are usage
 * errors that name the option and show `example`; a listening address may use port 0 (any free port).
 */
export function parseHostPort(
  address: string,
  opts: { option: string; defaultPort: number; example: string; allowPortZero?: boolean },
): HostPort {
  const text = address.trim();
  const bad = (why: string) =>
    usageError(`${opts.option} '${address}': ${why} (expected host:port, e.g. ${opts.example})`);
  if (text === '') throw bad('empty address');
  if (text.includes('://')) throw bad('no scheme, just host and port');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) throw bad("missing ']'");
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw bad('unexpected text after the IPv6 address');
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) throw bad('IPv6 addresses go in brackets');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (host === '' || /[\s/]/.test(host)) throw bad('bad host');
  const port = portText === undefined ? opts.defaultPort : Number(portText);
  const min = opts.allowPortZero ? 0 : 1;
  if (portText === '' || !Number.isInteger(port) || port < min || port > 65535) throw bad(`port must be ${min}-65535`);
  return { host, port, target: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

/** A PEM file's bytes; an unreadable or non-PEM file is an input error that names it. */
export function readPem(path: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw inputError(`cannot read the TLS ${what}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: path,
    });
  }
  // gRPC would take anything and fail later as a refused connection: say what is wrong now.
  if (!pem.includes('-----BEGIN '))
    throw inputError(`the TLS ${what} is not PEM (no '-----BEGIN' line)`, { file: path });
  return pem;
}

/** Channel credentials (plaintext, TLS or mTLS) and the channel options that go with them (the name to verify). */
export function channelCredentials(tls: GrpcTlsOptions | undefined): {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
} {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw usageError('a TLS client certificate needs its key, and a key needs its certificate');
  const ca = tls.ca ? readPem(tls.ca, 'CA file') : null;
  const cert = tls.cert ? readPem(tls.cert, 'client certificate') : null;
  const key = tls.key ? readPem(tls.key, 'client key') : null;
  const verify: grpc.VerifyOptions = tls.insecureSkipVerify
    ? { rejectUnauthorized: false, checkServerIdentity: () => undefined }
    : {};
  const options: grpc.ChannelOptions = {};
  if (tls.serverName) {
    options['grpc.ssl_target_name_override'] = tls.serverName;
    options['grpc.default_authority'] = tls.serverName;
  }
  return { credentials: grpc.credentials.createSsl(ca, key, cert, verify), options };
}

export const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 30_000 };

/** Exponential backoff with jitter: half the step is fixed, half random, so many clients do not retry in step. */
export function backoffDelay(attempt: number, backoff = DEFAULT_BACKOFF, random = Math.random): number {
  const step = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Errors that retrying cannot fix: the server does not speak the API, or refuses us. */
export const FATAL_CODES: ReadonlySet<number> = new Set([
  grpc.status.UNIMPLEMENTED,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
]);

export function describeGrpcError(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  if (e && typeof e.code === 'number') return `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Resolves once the channel is connected, so that "connected" is reported for real connections only; a
 * refused or failed connection rejects at once (the caller's backoff decides when to try again).
 */
export function channelReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  const channel = client.getChannel();
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) return reject(new Error('connection failed'));
      if (state === grpc.connectivityState.SHUTDOWN) return reject(new Error('connection closed'));
      channel.watchConnectivityState(state, deadline, (err) =>
        err ? reject(new Error('no connection before the deadline')) : check(),
      );
    };
    check();
  });
}
