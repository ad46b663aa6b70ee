/**
 * An identity's access token in a file, for the Google Cloud CLI
 * (`CLOUDSDK_AUTH_ACCESS_TOKEN_FILE`). gcloud reads the file when a command
 * starts and never refreshes a token it was handed, while the stack's tokens
 * last an hour (as Google's do) and a stack runs for as long as a developer
 * keeps it: so each file is rewritten with a fresh token every quarter of
 * the lifetime, and a command always starts with at least three quarters of
 * an hour left. Each write replaces the file in one rename (a command never
 * reads half a token), readable by its owner only. The token itself is never
 * printed; the stack prints the file's path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {randomBytes} from 'node:crypto';
import {TOKEN_LIFETIME_S} from './tokens';

export interface TokenFilesOptions {
  /** Where the files go: DIR/IDENTITY.token. */
  dir: string;
  /** A fresh access token for an identity's email. */
  mint: (email: string) => string;
  /** The emails of the identities a file may be asked for, by name. */
  identities: Record<string, string>;
  /** How often every file is rewritten (default a quarter of the token lifetime). */
  refreshMs?: number;
}

export class TokenFiles {
  private readonly files = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: TokenFilesOptions) {
    fs.mkdirSync(opts.dir, {recursive: true, mode: 0o700});
    this.timer = setInterval(() => this.refresh(), opts.refreshMs ?? (TOKEN_LIFETIME_S * 1000) / 4);
    this.timer.unref();
  }

  /** The file holding `identity`'s current token (written on first ask, then kept fresh). */
  file(identity: string): string {
    const known = this.files.get(identity);
    if (known) return known;
    if (!this.opts.identities[identity]) throw new Error(`no local identity ${identity}`);
    const file = path.join(this.opts.dir, `${identity}.token`);
    this.write(identity, file);
    this.files.set(identity, file);
    return file;
  }

  /** Stops refreshing; the files stay (their tokens expire within the hour). */
  close(): void {
    clearInterval(this.timer);
  }

  private refresh(): void {
    for (const [identity, file] of this.files) {
      try {
        this.write(identity, file);
      } catch {
        // A failed rewrite (the directory removed under a stopping stack) leaves the last token.
      }
    }
  }

  private write(identity: string, file: string): void {
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, this.opts.mint(this.opts.identities[identity]!), {mode: 0o600});
    fs.renameSync(tmp, file);
  }
}
