/**
 * Certificates trusted for https remote servers.
 *
 * Node 20 (what VS Code's language-server process and the `neox` CLI run on) only trusts its
 * bundled Mozilla list by default: `--use-system-ca` / `NODE_USE_SYSTEM_CA` arrived in Node 22.15
 * / 23.8 and `tls.getCACertificates('system')` likewise. A company CA installed in the OS store
 * would therefore be rejected. So for https we pass an explicit `ca` list to node:https:
 *   Node's bundled roots + the system store (tls.getCACertificates('system') where Node has it,
 *   else the distribution bundle file on Linux) + NODE_EXTRA_CA_CERTS + the caFile setting.
 * Giving `ca` replaces Node's default store, which is why the bundled roots are included too.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { NeoxError } from '../types';

/** Where Linux distributions keep the system bundle (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE). */
const LINUX_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
];

type GetCA = (type: 'system' | 'bundled' | 'extra' | 'default') => string[];

export function systemCertificates(): string[] {
  const get = (tls as unknown as { getCACertificates?: GetCA }).getCACertificates;
  if (typeof get === 'function') {
    try {
      return get('system');
    } catch {
      // fall through to the bundle files
    }
  }
  if (process.platform !== 'linux') return [];
  const file = LINUX_BUNDLES.find((f) => existsSync(f));
  return file ? splitPem(readFileSync(file, 'utf8')) : [];
}

export function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function readPemFile(file: string, what: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new NeoxError(`${what}: cannot read CA file ${file}: ${(e as Error).message}`, 'bad_setting');
  }
  const certs = splitPem(text);
  if (certs.length === 0) throw new NeoxError(`${what}: ${file} holds no PEM certificate`, 'bad_setting');
  return certs;
}

/** The full trust list for https requests. */
export function trustedCertificates(caFile?: string): string[] {
  const certs = [...tls.rootCertificates, ...systemCertificates()];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra && existsSync(extra)) certs.push(...readPemFile(extra, 'NODE_EXTRA_CA_CERTS'));
  if (caFile) certs.push(...readPemFile(caFile, 'neoxComplete.remoteCaFile'));
  return [...new Set(certs)];
}
