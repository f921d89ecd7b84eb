import { open } from 'node:fs/promises';

/** Inverts the byte at `offset` of the file (or stopped guest's disk) at `path`: the smallest corruption. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const f = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await f.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await f.write(b, 0, 1, offset);
  } finally {
    await f.close();
  }
}
