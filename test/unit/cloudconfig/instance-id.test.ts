// Instance ids come from datasource metadata and are hostile input: they name the instance
// record, scripts and first-boot units. A control character is refused where the metadata
// is read, with the source named, and the pipeline refuses one as a problem, not a throw
// from deep inside the unit printer (which is what an id with a newline met before).
import { describe, expect, test } from 'vitest';
import { instanceIdProblem } from '../../../src/cloudconfig/metadata.js';
import { planUserData } from '../../../src/cloudconfig/pipeline.js';
import { parseNocloudMetaData } from '../../../src/cloudconfig/datasources/nocloud-seed.js';
import { parseConfigDriveMetaData } from '../../../src/cloudconfig/datasources/config-drive.js';
import { readDatasource } from '../../../src/cloudconfig/datasources/index.js';
import { serve } from './datasources/http-server.js';

const bytes = (t: string) => new Uint8Array(Buffer.from(t, 'utf8'));

describe('instanceIdProblem', () => {
  test.each(['i-0123456789', 'iid-local-0123456789abcdef', '6f1c-uuid', 'a b/c:d', 'ü-node'])('%j is usable', (id) => {
    expect(instanceIdProblem(id)).toBeUndefined();
  });

  test.each([
    ['a newline', 'iid\nExecStart=/bin/evil', 'U+000A', 4],
    ['a carriage return', 'iid\r', 'U+000D', 4],
    ['a NUL', '\u0000iid', 'U+0000', 1],
    ['a tab', 'i\tid', 'U+0009', 2],
    ['DEL', 'iid\u007f', 'U+007F', 4],
    ['a C1 control', 'iid\u0085x', 'U+0085', 4],
  ])('%s is named with its place', (_name, id, code, at) => {
    expect(instanceIdProblem(id)).toBe(`instance id ${JSON.stringify(id)} has a control character (${code}) at position ${at}; expected printable text, since it names the instance's record, scripts and units`);
  });
});

describe('datasources refuse such an id where they read it', () => {
  test('NoCloud meta-data', () => {
    expect(() => parseNocloudMetaData('instance-id: "iid\\nExecStart=/bin/evil"\n', 'nocloud:/dev/vdb')).toThrow(
      expect.objectContaining({ kind: 'invalid-input', message: expect.stringMatching(/^nocloud:\/dev\/vdb: instance id "iid\\nExecStart=\/bin\/evil" has a control character \(U\+000A\) at position 4; .*; refusing this datasource$/) }),
    );
  });

  test('a config drive', () => {
    expect(() => parseConfigDriveMetaData('{"uuid": "u\\r\\nx"}', undefined, 'config-drive:/dev/vdc')).toThrow(expect.objectContaining({ kind: 'invalid-input', message: expect.stringContaining('config-drive:/dev/vdc: instance id "u\\r\\nx" has a control character (U+000D)') }));
  });

  test('an EC2-style metadata service', async () => {
    const server = await serve({ '/latest/meta-data/instance-id': 'i-1\nExecStart=/bin/evil' });
    try {
      const error = await readDatasource('ec2', { metadataUrl: `${server.url}/latest` }).catch((e: unknown) => e);
      expect(error).toMatchObject({ kind: 'invalid-input', message: expect.stringContaining(`ec2:${server.url}/latest: instance id "i-1\\nExecStart=/bin/evil" has a control character (U+000A)`) });
    } finally {
      await server.close();
    }
  });
});

describe('the pipeline', () => {
  test.each([false, true])('live %s: an id with a newline is a problem, not a throw from the unit printer', (live) => {
    const r = planUserData({ userData: bytes('#cloud-config\nruncmd:\n  - echo hi\n'), metadata: { instanceId: 'iid\nExecStart=/bin/evil', sshPublicKeys: [] }, live });
    expect(r).toEqual({
      ok: false,
      problems: [
        {
          severity: 'error',
          path: 'instance-id',
          line: 0,
          column: 0,
          message: `instance id "iid\\nExecStart=/bin/evil" has a control character (U+000A) at position 4; expected printable text, since it names the instance's record, scripts and units; refusing to plan`,
        },
      ],
    });
  });
});
