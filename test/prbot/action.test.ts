// The GitHub Action and the example workflow are YAML a user copies: they must parse, use only inputs
// the action declares, and run `flowwright pr` with the flags the command really has.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');

interface Action {
  name: string;
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Array<{ id?: string; run?: string; uses?: string; env?: Record<string, string> }> };
}

describe('action.yml', () => {
  const text = read('action.yml');
  const action = parse(text) as Action;

  it('is a composite action whose every input is described and every reference is declared', () => {
    assert.equal(action.runs.using, 'composite');
    for (const [name, input] of Object.entries(action.inputs))
      assert.ok(input.description, `${name} has a description`);
    assert.equal(action.inputs['policies-dir'].required, true);
    const used = [...text.matchAll(/inputs\.([\w-]+)/g)].map((m) => m[1]);
    assert.ok(used.length > 10);
    for (const name of used) assert.ok(name in action.inputs, `inputs.${name} is declared`);
    for (const name of Object.keys(action.inputs)) assert.ok(used.includes(name), `input ${name} is used`);
    for (const [name, out] of Object.entries(action.outputs)) {
      const m = /steps\.(\w+)\.outputs\.(\w+)/.exec(out.value);
      assert.ok(m, `${name} comes from a step`);
      const step = action.runs.steps.find((s) => s.id === m[1]);
      assert.ok(step?.run?.includes(`${m[2]}=`), `step ${m[1]} writes ${m[2]}`);
    }
  });

  it('passes only flags that flowwright pr has, and treats exit status 6 as success', () => {
    const pr = buildProgram().commands.find((c) => c.name() === 'pr')!;
    const flags = new Set(pr.options.map((o) => o.long));
    const step = action.runs.steps.find((s) => s.id === 'pr')!;
    const passed = [...step.run!.matchAll(/(?<![\w-])(--[a-z][\w-]*)/g)].map((m) => m[1]);
    assert.ok(passed.includes('--policies-dir'));
    for (const f of passed) assert.ok(flags.has(f), `flowwright pr has ${f}`);
    assert.match(step.run!, /^\s*6\) echo "result=nothing"/m);
    assert.equal(step.env?.GITHUB_TOKEN, `$\{{ inputs.token }}`);
  });
});

describe('deploy/github/flowwright-pr.yml', () => {
  const wf = parse(read('deploy/github/flowwright-pr.yml')) as {
    on: { schedule: Array<{ cron: string }> };
    permissions: Record<string, string>;
    jobs: Record<string, { steps: Array<{ uses?: string; with?: Record<string, string> }> }>;
  };
  const action = parse(read('action.yml')) as Action;

  it('runs on a schedule with the permissions the bot needs and valid action inputs', () => {
    assert.match(wf.on.schedule[0].cron, /^\S+ \S+ \S+ \S+ \S+$/);
    assert.deepEqual(wf.permissions, { contents: 'write', 'pull-requests': 'write' });
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    const bot = steps.find((s) => s.uses?.includes('flowwright'));
    assert.ok(bot?.with);
    for (const key of Object.keys(bot.with)) assert.ok(key in action.inputs, `${key} is an input of the action`);
    assert.ok(bot.with['policies-dir']);
  });
});
