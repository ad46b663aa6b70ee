/**
 * Where the emulator keeps a multi-call session (a resumable upload, a
 * rewrite) so that it survives a restart, as Cloud Storage's do: per session
 * a state file, written whole and renamed into place, and a part file of the
 * bytes received so far, in one folder of the store's metadata.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export class SessionFiles<T> {
  constructor(readonly dir: string) {}

  partPath(key: string): string {
    return path.join(this.dir, `${key}.bin`);
  }

  statePath(key: string): string {
    return path.join(this.dir, `${key}.json`);
  }

  async save(key: string, state: T): Promise<void> {
    const tmp = `${this.statePath(key)}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(state));
    await fs.promises.rename(tmp, this.statePath(key));
  }

  /** Every saved session's state (the folder is created if it is not there). */
  async readAll(): Promise<T[]> {
    await fs.promises.mkdir(this.dir, {recursive: true});
    const states: T[] = [];
    for (const file of await fs.promises.readdir(this.dir)) {
      if (!file.endsWith('.json')) continue;
      states.push(JSON.parse(await fs.promises.readFile(path.join(this.dir, file), 'utf8')) as T);
    }
    return states;
  }
}
