import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseDuration, parseTime, resolveConfig } from '../../src/cli/options.js';
import { FlowwrightError } from '../../src/model/index.js';

describe('resolveConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fw-options-'));
  const file = join(dir, 'flowwright.yaml');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('uses defaults when nothing is given', () => {
    const c = resolveConfig({}, ['db', 'minFlows'], {});
    assert.equal(c.db, 'flowwright.db');
    assert.equal(c.minFlows, 1);
    assert.equal(c.defaultDeny, true);
    assert.ok(Object.isFrozen(c));
  });

  it('applies flags over environment over config file over defaults', () => {
    writeFileSync(file, 'db: from-file.db\nminFlows: 7\ncidrPrefix: 16\n');
    const env = { FLOWWRIGHT_DB: 'from-env.db', FLOWWRIGHT_MIN_FLOWS: '3' };
    const c = resolveConfig({ config: file, db: 'from-flag.db' }, ['db', 'minFlows', 'cidrPrefix'], env);
    assert.equal(c.db, 'from-flag.db');
    assert.equal(c.minFlows, 3);
    assert.equal(c.cidrPrefix, 16);
  });

  it('treats a negated boolean flag as given only when false', () => {
    assert.equal(
      resolveConfig({ defaultDeny: true }, ['defaultDeny'], { FLOWWRIGHT_DEFAULT_DENY: 'false' }).defaultDeny,
      false,
    );
    assert.equal(
      resolveConfig({ defaultDeny: false }, ['defaultDeny'], { FLOWWRIGHT_DEFAULT_DENY: 'true' }).defaultDeny,
      false,
    );
  });

  it('rejects unknown config keys by name', () => {
    writeFileSync(file, 'db: x.db\nminflows: 3\n');
    assert.throws(
      () => resolveConfig({ config: file }, ['db'], {}),
      (err: unknown) =>
        err instanceof FlowwrightError &&
        err.code === 'usage' &&
        /unknown configuration key 'minflows'/.test(err.message),
    );
  });

  it("lets the service's keys through, so one flowwright.yaml serves every command", () => {
    writeFileSync(
      file,
      'db: shared.db\nlisten: 127.0.0.1:8080\nsources:\n  - type: hubble-relay\n    address: relay:4245\n',
    );
    assert.equal(resolveConfig({ config: file }, ['db'], {}).db, 'shared.db');
  });

  it('rejects bad values naming where they came from', () => {
    assert.throws(
      () => resolveConfig({}, ['minFlows'], { FLOWWRIGHT_MIN_FLOWS: 'many' }),
      /FLOWWRIGHT_MIN_FLOWS: expected an integer/,
    );
    assert.throws(
      () => resolveConfig({ cidrPrefix: '33' }, ['cidrPrefix'], {}),
      /--cidr-prefix: expected an integer from 0 to 32/,
    );
    assert.throws(
      () => resolveConfig({ nodeCidr: '10.0.0.0/16, nodes' }, ['nodeCidr'], {}),
      /--node-cidr: expected CIDRs such as 10.0.0.0\/16, got 'nodes'/,
    );
    assert.equal(
      resolveConfig({ nodeCidr: ' 10.0.0.0/16 ,fd00::/64' }, ['nodeCidr'], {}).nodeCidr,
      '10.0.0.0/16,fd00::/64',
    );
  });

  it('parses durations and times', () => {
    assert.equal(parseDuration('15m', 'x'), 900_000);
    assert.equal(parseTime('7d', 'x', 1_000_000_000_000), 1_000_000_000_000 - 7 * 86_400_000);
    assert.equal(parseTime('2026-11-01T00:00:00Z', 'x'), Date.UTC(2026, 10, 1));
    assert.equal(parseTime('', 'x'), undefined);
    assert.throws(() => parseTime('yesterday', '--since'), /--since: expected an RFC 3339 time/);
    assert.equal(parseTime('2026-11-01T01:30:00.5+01:30', 'x'), Date.UTC(2026, 10, 1, 0, 0, 0, 500));
    assert.equal(parseTime('2026-11-01', 'x'), Date.UTC(2026, 10, 1), 'a bare date is UTC midnight');
    // Without an offset the time would depend on the machine's zone: refused.
    assert.throws(() => parseTime('2026-11-01T12:00:00', '--since'), /--since: expected an RFC 3339 time/);
  });
});
