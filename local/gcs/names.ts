/**
 * Bucket and object name rules of Cloud Storage, plus the extra rules the
 * emulator needs because it stores each object as a plain file at
 * `DATA/{bucket}/{object name}`.
 */

export class NameError extends Error {
  override name = 'NameError' as const;
  constructor(
    message: string,
    /** JSON-API error reason. */
    readonly reason: 'invalid' | 'emulatorLimitation',
  ) {
    super(message);
  }
}

const BUCKET_RE = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;

/** Throws a NameError unless `name` is a valid bucket name. */
export function checkBucketName(name: string): void {
  if (!BUCKET_RE.test(name) || name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) {
    throw new NameError(
      `Invalid bucket name: '${name}'. Bucket names contain 3-63 lowercase letters, digits, ` +
        "'-', '_' or '.', and start and end with a letter or digit.",
      'invalid',
    );
  }
}

/** Throws a NameError unless `name` is a valid object name that maps to a file. */
export function checkObjectName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > 1024) {
    throw new NameError(
      `Object name must be 1-1024 bytes of UTF-8, got ${bytes} bytes.`,
      'invalid',
    );
  }
  if (/[\r\n\0]/.test(name)) {
    throw new NameError(
      'Object names cannot contain carriage return, line feed or NUL.',
      'invalid',
    );
  }
  if (name === '.' || name === '..' || name.startsWith('.well-known/acme-challenge/')) {
    throw new NameError(`Object name '${name}' is not allowed.`, 'invalid');
  }
  const segments = name.split('/');
  for (const seg of segments) {
    if (seg === '' || seg === '.' || seg === '..') {
      throw new NameError(
        `Object name '${name}' has an empty, '.' or '..' path segment: valid in Cloud Storage, ` +
          'but this emulator stores objects as plain files and cannot represent it.',
        'emulatorLimitation',
      );
    }
    if (Buffer.byteLength(seg, 'utf8') > 255) {
      throw new NameError(
        `Object name '${name.slice(0, 40)}…' has a path segment longer than 255 bytes, ` +
          'which the file system under the emulator cannot store.',
        'emulatorLimitation',
      );
    }
  }
}
