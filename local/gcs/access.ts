/**
 * Cloud Storage's authorization, for an emulator started with a policy
 * (`--iam DIR`): each JSON API call needs the permission Cloud Storage
 * checks for it, on the bucket (listing, bucket reads) or on the object (its
 * name is what the grants' IAM Conditions see):
 *
 *   objects.list                → storage.objects.list on the bucket
 *   objects.get, media download → storage.objects.get
 *   objects.insert, rewrite/copy (destination) → storage.objects.create,
 *       plus storage.objects.delete when it replaces a live object, plus
 *       storage.objects.setRetention when it sets a retention
 *   rewrite/copy (source)       → storage.objects.get
 *   objects.patch/update        → storage.objects.update (+ setRetention to
 *       change a retention, + overrideUnlockedRetention to shorten one)
 *   objects.delete              → storage.objects.delete
 *   buckets.get/insert/patch/delete/list → storage.buckets.*
 *
 * A call without credentials is answered 401, with credentials that do not
 * hold the permission 403, in Cloud Storage's JSON error shape naming the
 * caller and the permission. A resumable session's later requests are not
 * checked again: its session URI is the authorization, as in Cloud Storage.
 * Without a policy (an emulator started on its own) every caller may do
 * everything, as before.
 */
import type {IncomingMessage} from 'node:http';
import {Access, Caller} from '../iam/authorize';
import {FileStore, ObjectProps, Preconditions, StoreError} from './store';

export class GcsAccess {
  constructor(
    private readonly access: Access | undefined,
    private readonly store: FileStore,
  ) {}

  get enforcing(): boolean {
    return this.access !== undefined;
  }

  caller(req: IncomingMessage): Caller {
    return this.access ? this.access.caller(req.headers.authorization) : {kind: 'anonymous'};
  }

  /** Throws Cloud Storage's 401/403 unless the caller holds `permission`. */
  require(caller: Caller, permission: string, bucket: string, object?: string): void {
    if (!this.access) return;
    const what = object === undefined ? 'bucket' : 'object';
    const denied = `access to the Google Cloud Storage ${what}. Permission '${permission}' denied on resource (or it may not exist).`;
    if (caller.kind === 'anonymous')
      throw new StoreError(
        401,
        'required',
        `Anonymous caller does not have ${permission} ${denied}`,
      );
    if (caller.kind === 'invalid') throw new StoreError(401, 'authError', 'Invalid Credentials');
    if (!this.access.allowed(caller.email, permission, {kind: 'bucket', name: bucket, object}))
      throw new StoreError(
        403,
        'forbidden',
        `${caller.email} does not have ${permission} ${denied}`,
      );
  }

  /**
   * What writing `name` needs, checked after its preconditions hold: create;
   * delete too when a live object would be replaced; setRetention when the
   * new object asks for a retention.
   */
  requireWrite(
    caller: Caller,
    bucket: string,
    name: string,
    pre: Preconditions,
    props: ObjectProps,
  ): void {
    if (!this.access) return;
    this.require(caller, 'storage.objects.create', bucket, name);
    if (props.retention) this.require(caller, 'storage.objects.setRetention', bucket, name);
    if (this.replaces(bucket, name, pre))
      this.require(caller, 'storage.objects.delete', bucket, name);
  }

  /** Whether a write of `name` with these preconditions would replace a live object. */
  private replaces(bucket: string, name: string, pre: Preconditions): boolean {
    try {
      this.store.getObject(bucket, name, pre);
      return true;
    } catch (err) {
      // No live object, or a precondition that fails the write anyway (412).
      if (err instanceof StoreError) return false;
      throw err;
    }
  }
}
