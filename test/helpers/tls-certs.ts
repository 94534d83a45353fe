/**
 * Throw-away certificates for TLS tests, made with the `openssl` command in a temporary directory:
 * a CA, a server certificate for the loopback addresses and a client certificate, both signed by
 * the CA. EC P-256 keys, because RSA key generation costs up to a second per key on a busy machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerTls } from './redis-server.js';

/** What a TLS client needs to reach a test server: trust in its CA and, if asked, its own identity. */
export interface ClientTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestCertificates {
  /** The directory holding every file below; `remove()` deletes it. */
  readonly dir: string;
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /**
   * The client certificate and key as files, for servers that connect onwards as clients
   * (replication, Sentinel's links) and so must present a certificate their peers accept.
   */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** The CA's certificate and the client's certificate and key, as PEM text. */
  readonly client: ClientTls;
  remove(): void;
}

/** File names inside the directory, shared with clientTlsIn for processes given only the path. */
const FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  serverCert: 'server.pem',
  serverKey: 'server-key.pem',
  clientCert: 'client.pem',
  clientKey: 'client-key.pem',
} as const;

// One config for all three: the CA's constraints, and names and key usages that Node's and Redis's
// verifiers check (a server certificate without the address in its SAN fails hostname checks).
const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = latchkey test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`;

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    writeFileSync(path('openssl.cnf'), CONFIG);
    openssl(
      'req',
      '-x509',
      ...KEY,
      '-config',
      'openssl.cnf',
      '-extensions',
      'ca',
      '-subj',
      '/CN=latchkey test CA',
      '-days',
      '2',
      '-keyout',
      FILES.caKey,
      '-out',
      FILES.ca,
    );
    for (const [kind, cert, key] of [
      ['server', FILES.serverCert, FILES.serverKey],
      ['client', FILES.clientCert, FILES.clientKey],
    ] as const) {
      openssl(
        'req',
        ...KEY,
        '-config',
        'openssl.cnf',
        '-subj',
        `/CN=latchkey test ${kind}`,
        '-keyout',
        key,
        '-out',
        `${kind}.csr`,
      );
      openssl(
        'x509',
        '-req',
        '-in',
        `${kind}.csr`,
        '-CA',
        FILES.ca,
        '-CAkey',
        FILES.caKey,
        // Distinct serials: verifiers may treat two certificates of one issuer and serial as one.
        '-set_serial',
        `0x${Date.now().toString(16)}${kind === 'server' ? '01' : '02'}`,
        '-days',
        '2',
        '-extfile',
        'openssl.cnf',
        '-extensions',
        kind,
        '-out',
        cert,
      );
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl failed${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
  return {
    dir,
    caFile: path(FILES.ca),
    serverCertFile: path(FILES.serverCert),
    serverKeyFile: path(FILES.serverKey),
    clientCertFile: path(FILES.clientCert),
    clientKeyFile: path(FILES.clientKey),
    client: clientTlsIn(dir),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The client's TLS material in a directory made by makeTestCertificates. */
export function clientTlsIn(dir: string): ClientTls {
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { ca: read(FILES.ca), cert: read(FILES.clientCert), key: read(FILES.clientKey) };
}

/**
 * The environment variable that tells a worker process where the certificates are: the suite
 * starts workers with a command and arguments only, and the task in their argv is the suite's.
 */
export const TLS_DIR_ENV = 'LATCHKEY_TEST_TLS_DIR';

/** The client's TLS material for a worker process, from the directory TLS_DIR_ENV names. */
export function clientTlsFromEnv(): ClientTls {
  const dir = process.env[TLS_DIR_ENV];
  if (!dir) throw new Error(`${TLS_DIR_ENV} is not set`);
  return clientTlsIn(dir);
}

/**
 * How a test redis-server serves TLS with these certificates: only clients with a certificate
 * signed by the CA (`'yes'`, Redis's default), or also those without one (`'optional'`).
 */
export function serverTls(
  certificates: TestCertificates,
  authClients: ServerTls['authClients'] = 'yes',
): ServerTls {
  return {
    certFile: certificates.serverCertFile,
    keyFile: certificates.serverKeyFile,
    caFile: certificates.caFile,
    authClients,
    admin: certificates.client,
  };
}

/**
 * redis-server arguments for the TLS links a server opens itself (a replica to its primary, a
 * Sentinel to the servers and to its peers): on TLS, showing the client certificate, since the
 * server certificate's key usage says server only.
 */
export function outgoingTlsArgs(certificates: TestCertificates): string[] {
  return [
    '--tls-replication',
    'yes',
    '--tls-client-cert-file',
    certificates.clientCertFile,
    '--tls-client-key-file',
    certificates.clientKeyFile,
  ];
}
