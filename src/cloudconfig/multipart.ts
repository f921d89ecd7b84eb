/**
 * MIME multipart user-data, as cloud-init accepts it (`cloud-init devel make-mime`, Terraform's
 * cloudinit_config): a `Content-Type: multipart/...; boundary=…` message whose parts are
 * `text/cloud-config` documents and `text/x-shellscript` scripts. This file only splits the
 * message: each part keeps the line of the file it starts on, so a problem in a part is
 * located in the file the user wrote. Other part types are warned about and skipped, as
 * cloud-init skips types it has no handler for; quoted-printable and nested multipart are refused.
 */
import type { Problem } from '../problem.js';

/** One part, its body as text. `firstLine` is the file line the body starts on (1-based). */
export interface MimePart {
  type: 'cloud-config' | 'script';
  text: string;
  firstLine: number;
  /** The part's body was base64 in the file: its own lines are not the file's. */
  encoded: boolean;
  /** Content-Disposition filename, when given. */
  filename?: string;
}

export interface Multipart {
  kind: 'multipart';
  parts: MimePart[];
  problems: Problem[];
}

/** User-data that starts with a MIME header line is a MIME message, as cloud-init reads it. */
export function isMime(text: string): boolean {
  return /^(content-type|mime-version)[ \t]*:/i.test(text);
}

interface Headers {
  fields: Map<string, { value: string; line: number }>;
  /** Index of the first body line. */
  bodyStart: number;
}

/** Header lines (folded continuations joined) up to the first empty line. */
function readHeaders(lines: string[], start: number): Headers {
  const fields = new Map<string, { value: string; line: number }>();
  let last: string | undefined;
  let i = start;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') return { fields, bodyStart: i + 1 };
    if (/^[ \t]/.test(line) && last) {
      fields.get(last)!.value += ' ' + line.trim();
      continue;
    }
    const m = /^([!-9;-~]+)[ \t]*:(.*)$/.exec(line);
    if (!m) return { fields, bodyStart: i };
    last = m[1]!.toLowerCase();
    fields.set(last, { value: m[2]!.trim(), line: i + 1 });
  }
  return { fields, bodyStart: i };
}

/** `type/subtype; a=b; c="d"` → the lower-case type and its parameters. */
function contentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const [type = '', ...rest] = (value ?? 'text/plain').split(';');
  const params = new Map<string, string>();
  for (const p of rest) {
    const m = /^\s*([^=\s]+)\s*=\s*(?:"([^"]*)"|(\S*))\s*$/.exec(p);
    if (m) params.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? '');
  }
  return { type: type.trim().toLowerCase(), params };
}

/** Splits a MIME message into its cloud-config and script parts, with located problems. */
export function readMultipart(text: string): Multipart {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const problems: Problem[] = [];
  const at = (line: number, severity: Problem['severity'], message: string) => problems.push({ severity, path: '', line, column: 1, message });
  const top = readHeaders(lines, 0);
  const topType = top.fields.get('content-type');
  const { type, params } = contentType(topType?.value);
  if (!type.startsWith('multipart/')) {
    // A single-part MIME message: its body is the one part.
    const part = bodyPart(lines, top, top.bodyStart, lines.length, at);
    return { kind: 'multipart', parts: part ? [part] : [], problems };
  }
  const boundary = params.get('boundary');
  if (!boundary) {
    at(topType?.line ?? 1, 'error', `a ${type} message without a boundary parameter; expected Content-Type: ${type}; boundary="…"; refusing the user-data`);
    return { kind: 'multipart', parts: [], problems };
  }
  const parts: MimePart[] = [];
  let start: number | undefined;
  let closed = false;
  for (let i = top.bodyStart; i <= lines.length; i++) {
    const line = (lines[i] ?? `--${boundary}--`).trimEnd();
    if (line !== `--${boundary}` && line !== `--${boundary}--`) continue;
    if (start !== undefined) {
      const headers = readHeaders(lines, start);
      const part = bodyPart(lines, headers, headers.bodyStart, i, at);
      if (part) parts.push(part);
    }
    if (line === `--${boundary}--`) {
      closed = i < lines.length;
      break;
    }
    start = i + 1;
  }
  if (start === undefined) at(top.bodyStart + 1, 'error', `no part starts with --${boundary}; expected at least one part; refusing the user-data`);
  else if (!closed) at(lines.length, 'warning', `the message does not end with --${boundary}--; reading the parts up to the end of the file`);
  return { kind: 'multipart', parts, problems };
}

/** One part's body by its type and transfer encoding; undefined (with a problem) when it is skipped. */
function bodyPart(lines: string[], headers: Headers, from: number, to: number, at: (line: number, s: Problem['severity'], m: string) => void): MimePart | undefined {
  const typeField = headers.fields.get('content-type');
  const { type } = contentType(typeField?.value);
  const where = typeField?.line ?? from;
  const encodingField = headers.fields.get('content-transfer-encoding');
  const transfer = (encodingField?.value ?? '7bit').toLowerCase();
  const filename = /filename\s*=\s*"?([^";]+)"?/i.exec(headers.fields.get('content-disposition')?.value ?? '')?.[1];
  const kind = type === 'text/cloud-config' ? 'cloud-config' : type === 'text/x-shellscript' ? 'script' : undefined;
  if (!kind) {
    const what = type.startsWith('multipart/') ? 'a nested multipart part' : `a part of type ${type || 'text/plain'}`;
    at(where, 'warning', `${what}; expected text/cloud-config or text/x-shellscript (the types keel reads); ignoring the part`);
    return undefined;
  }
  let body = lines.slice(from, to).join('\n');
  if (['7bit', '8bit', 'binary'].includes(transfer)) return { type: kind, text: body, firstLine: from + 1, encoded: false, ...(filename ? { filename } : {}) };
  if (transfer === 'base64') {
    const clean = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) {
      at(from + 1, 'error', 'the part is not valid base64; expected base64 because of its Content-Transfer-Encoding; refusing the user-data');
      return undefined;
    }
    const bytes = Buffer.from(clean, 'base64');
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      at(from + 1, 'error', 'the base64 part does not decode to utf-8 text; expected cloud-config or a script; refusing the user-data');
      return undefined;
    }
    return { type: kind, text: body, firstLine: from + 1, encoded: true, ...(filename ? { filename } : {}) };
  }
  at(encodingField?.line ?? where, 'error', `Content-Transfer-Encoding ${transfer}; expected 7bit, 8bit, binary or base64; refusing the user-data`);
  return undefined;
}
