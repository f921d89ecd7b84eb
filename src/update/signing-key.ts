import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { Key, Signature } from '@tufjs/models';
import { KeelError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';

/**
 * The ed25519 keys that sign keel's update metadata. The public half is pinned in the
 * image (`/usr/lib/keel/update-trust.pub`, PEM); the private half stays with whoever
 * publishes. This file converts between PEM and TUF's key objects.
 */
export interface SigningKey {
  readonly key: Key;
  readonly keyId: string;
  sign(data: Buffer): Signature;
}

/** Reads a PEM public key (SPKI) and returns TUF's Key for it; refuses anything but ed25519. */
export function tufKeyOfPublicPem(pem: string, what = 'trust key'): Key {
  let object: KeyObject;
  try {
    object = createPublicKey(pem);
  } catch (error) {
    throw new KeelError('invalid-input', `${what}: expected an ed25519 public key in PEM form, found something unreadable; refusing to trust it`, { cause: error });
  }
  return tufKeyOf(object, what);
}

/** Reads a PEM private key (PKCS#8) into something that signs TUF metadata. */
export function signingKeyOfPem(pem: string, what = 'signing key'): SigningKey {
  let object: KeyObject;
  try {
    object = createPrivateKey(pem);
  } catch (error) {
    throw new KeelError('invalid-input', `${what}: expected an ed25519 private key in PEM form, found something unreadable; refusing to sign`, { cause: error });
  }
  const key = tufKeyOf(createPublicKey(object), what);
  return {
    key,
    keyId: key.keyID,
    sign: (data) => new Signature({ keyID: key.keyID, sig: sign(null, data, object).toString('hex') }),
  };
}

/** A fresh ed25519 key pair as PEM strings (tests and `make release` use it). */
export function generateKeyPairPem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function tufKeyOf(object: KeyObject, what: string): Key {
  if (object.asymmetricKeyType !== 'ed25519')
    throw new KeelError('invalid-input', `${what}: expected an ed25519 key, found ${object.asymmetricKeyType ?? 'an unknown type'}; refusing it`);
  // The raw 32-byte public key is the last 32 bytes of its SPKI DER encoding.
  const der = object.export({ type: 'spki', format: 'der' });
  const publicHex = der.subarray(der.length - 32).toString('hex');
  const body = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } };
  // TUF names a key by the SHA-256 of its canonical JSON form.
  const keyID = createHash('sha256').update(canonicalJson(body)).digest('hex');
  return new Key({ keyID, keyType: 'ed25519', scheme: 'ed25519', keyVal: { public: publicHex } });
}
