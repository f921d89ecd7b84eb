/**
 * The one cloud-config a MIME multipart user-data stands for. Each `text/cloud-config` part is
 * validated on its own (problems located at the part's lines in the file) and the parts are
 * merged as cloud-init's default merger for cloud-config parts does (`dict(replace)+list()+str()`):
 * a top-level key given in several parts takes the later part's value whole (lists are not
 * appended; `merge_how` and Merge-Type headers are not read). Each `text/x-shellscript` part
 * becomes a file under /var/lib/keel/scripts run before the merged `runcmd` (cloud-init runs
 * part scripts and runcmd from one directory, `part-…` sorting before `runcmd`).
 */
import { hasErrors, type Problem } from '../problem.js';
import type { CommandLine, WriteFile } from './model.js';
import type { MimePart, Multipart } from './multipart.js';
import { scriptsDir } from './plan-commands.js';
import { toCloudConfig } from './to-model.js';
import { readCloudConfigRecord, type ValidationResult } from './validate.js';

/** Validates and merges the parts; `transform` is applied to each cloud-config part's text first (substitution). */
export function validateMultipart(message: Multipart, transform: (text: string) => string = (t) => t): ValidationResult {
  const problems: Problem[] = [...message.problems];
  const merged: Record<string, unknown> = {};
  const scripts: WriteFile[] = [];
  for (const [i, part] of message.parts.entries()) {
    if (part.type === 'script') {
      if (!part.text.startsWith('#!')) problems.push({ severity: 'warning', path: '', line: part.firstLine, column: 1, message: 'a text/x-shellscript part without a #! line; expected #!/bin/sh or similar; it is run as given and may fail' });
      scripts.push({ path: `${scriptsDir}/part-${String(i + 1).padStart(3, '0')}${part.filename ? `-${part.filename.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}` : ''}`, content: new Uint8Array(Buffer.from(part.text, 'utf8')), permissions: 0o700, append: false });
      continue;
    }
    const read = readCloudConfigRecord(positioned(part, transform), { requireHeader: false });
    problems.push(...(part.encoded ? read.problems.map((p) => relocate(p, part)) : read.problems));
    if (read.value) Object.assign(merged, read.value);
  }
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (hasErrors(problems)) return { config: undefined, problems };
  const config = toCloudConfig(merged);
  config.writeFiles = [...config.writeFiles, ...scripts];
  config.runcmd = [...scripts.map((s): CommandLine => [s.path]), ...config.runcmd];
  return { config, problems };
}

/** The part's text placed at its lines in the file, so the yaml positions are the file's. */
function positioned(part: MimePart, transform: (text: string) => string): string {
  const text = transform(part.text);
  return part.encoded ? text : '\n'.repeat(part.firstLine - 1) + text;
}

/** A problem inside a base64 part: located at the part, its own position kept in the message. */
function relocate(p: Problem, part: MimePart): Problem {
  return { ...p, line: part.firstLine, column: 1, message: `in the base64 part, at its line ${p.line}:${p.column}: ${p.message}` };
}
