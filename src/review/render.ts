// One entry point per report for the CLI and the service: the report and a format name → text.
import type { DiffReport } from './diff.js';
import { renderDiffJson, renderVerifyJson } from './render-json.js';
import { renderDiffMarkdown, renderVerifyMarkdown } from './render-markdown.js';
import { renderDiffTable, renderVerifyTable } from './render-table.js';
import { renderDiffYaml } from './render-yaml-diff.js';
import type { VerifyReport } from './verify.js';

export type VerifyFormat = 'table' | 'markdown' | 'json';
export const VERIFY_FORMATS: readonly VerifyFormat[] = ['table', 'markdown', 'json'];
export type DiffFormat = 'table' | 'markdown' | 'json' | 'yaml-diff';
export const DIFF_FORMATS: readonly DiffFormat[] = ['table', 'markdown', 'json', 'yaml-diff'];

export function renderVerify(r: VerifyReport, format: VerifyFormat): string {
  switch (format) {
    case 'table':
      return renderVerifyTable(r);
    case 'markdown':
      return renderVerifyMarkdown(r);
    case 'json':
      return renderVerifyJson(r);
  }
}

export function renderDiff(r: DiffReport, format: DiffFormat): string {
  switch (format) {
    case 'table':
      return renderDiffTable(r);
    case 'markdown':
      return renderDiffMarkdown(r);
    case 'json':
      return renderDiffJson(r);
    case 'yaml-diff':
      return renderDiffYaml(r);
  }
}
