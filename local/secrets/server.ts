/**
 * A Secret Manager stand-in speaking the real gRPC API (the official
 * `google.cloud.secretmanager.v1` protos shipped in
 * `@google-cloud/secret-manager`), so the official client works unchanged:
 *
 *   new SecretManagerServiceClient({apiEndpoint: '127.0.0.1', port,
 *     sslCreds: grpc.credentials.createInsecure()})
 *
 * Secrets come from a JSON file `{"NAME": "value"}` or `{"NAME": ["v1", "v2"]}`
 * (versions 1..n; `latest` is the last one) and apply to every project.
 * CreateSecret and AddSecretVersion write back to that file. Unknown secrets
 * and versions answer NOT_FOUND, as the real service does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {CRC32C} from '@google-cloud/storage';
import type {Access} from '../iam/authorize';

export type SecretFile = Record<string, string | string[]>;

/** The certificate a client of a stand-in started with `--tls DIR` trusts: DIR/this. */
export const SECRETS_CA_FILE = 'secrets-ca.pem';

interface Version {
  value: Buffer;
  createTime: Date;
}

const NAME_RE = /^projects\/([^/]+)\/secrets\/([A-Za-z0-9_-]{1,255})(?:\/versions\/([^/]+))?$/;
const SECRET_ID_RE = /^[A-Za-z0-9_-]{1,255}$/;

function protoDirs(): string[] {
  // Both packages block `package.json` in their exports; resolve their mains and
  // walk up to the package roots.
  const root = (main: string) => main.slice(0, main.lastIndexOf(`${path.sep}build${path.sep}`));
  const sm = root(require.resolve('@google-cloud/secret-manager'));
  const gax = root(require.resolve('google-gax', {paths: [sm]}));
  return [path.join(sm, 'build', 'protos'), path.join(gax, 'build', 'protos')];
}

function loadService(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync('google/cloud/secretmanager/v1/service.proto', {
    includeDirs: protoDirs(),
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    google: {
      cloud: {secretmanager: {v1: {SecretManagerService: {service: grpc.ServiceDefinition}}}};
    };
  };
  return pkg.google.cloud.secretmanager.v1.SecretManagerService.service;
}

function crc32cInt(value: Buffer): string {
  const c = new CRC32C();
  c.update(value);
  return String(Buffer.from(c.toString(), 'base64').readUInt32BE(0));
}

function timestamp(d: Date) {
  return {seconds: String(Math.floor(d.getTime() / 1000)), nanos: (d.getTime() % 1000) * 1e6};
}

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

function fail(cb: Callback, code: grpc.status, details: string): void {
  cb({code, details, name: 'Error', message: details});
}

export class SecretStore {
  private readonly secrets = new Map<string, Version[]>();

  constructor(
    private readonly file: string | undefined,
    initial: SecretFile = {},
  ) {
    for (const [name, value] of Object.entries(initial)) {
      if (!SECRET_ID_RE.test(name))
        throw new Error(`invalid secret id "${name}" in ${file ?? 'initial secrets'}`);
      const values = Array.isArray(value) ? value : [value];
      this.secrets.set(
        name,
        values.map(v => ({value: Buffer.from(String(v), 'utf8'), createTime: new Date()})),
      );
    }
  }

  static fromFile(file: string): SecretStore {
    const raw = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '{}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error(`secrets file ${file} is not valid JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`secrets file ${file} must hold a JSON object {"NAME": "value" | ["v1", …]}`);
    }
    return new SecretStore(file, parsed as SecretFile);
  }

  get(name: string): Version[] | undefined {
    return this.secrets.get(name);
  }

  create(name: string): boolean {
    if (this.secrets.has(name)) return false;
    this.secrets.set(name, []);
    this.persist();
    return true;
  }

  add(name: string, value: Buffer): number {
    const versions = this.secrets.get(name)!;
    versions.push({value, createTime: new Date()});
    this.persist();
    return versions.length;
  }

  names(): string[] {
    return [...this.secrets.keys()].sort();
  }

  private persist(): void {
    if (!this.file) return;
    const out: SecretFile = {};
    for (const [name, versions] of this.secrets)
      out[name] = versions.map(v => v.value.toString('utf8'));
    fs.mkdirSync(path.dirname(this.file), {recursive: true});
    fs.writeFileSync(`${this.file}.tmp`, JSON.stringify(out, null, 2));
    fs.renameSync(`${this.file}.tmp`, this.file);
  }
}

/**
 * Secret Manager's authorization, for a stand-in given a policy: each call
 * needs its permission on the secret (`projects/P/secrets/ID`), checked
 * before the secret is looked up, as Secret Manager does; no credentials is
 * UNAUTHENTICATED, missing rights PERMISSION_DENIED "(or it may not exist)".
 * Listing and creating secrets and adding versions are the owner's.
 */
function authorizer(access: Access | undefined) {
  return (call: Call, cb: Callback, permission: string, resource: string): boolean => {
    if (!access) return true;
    const caller = access.caller(call.metadata.get('authorization')[0]?.toString());
    if (caller.kind !== 'principal') {
      fail(
        cb,
        grpc.status.UNAUTHENTICATED,
        caller.kind === 'anonymous'
          ? 'Request is missing required authentication credential. Expected OAuth 2 access token.'
          : 'Request had invalid authentication credentials. Expected OAuth 2 access token.',
      );
      return false;
    }
    const secret = /^(projects\/[^/]+\/secrets\/[^/]+)/.exec(resource)?.[1] ?? resource;
    if (access.allowed(caller.email, permission, {kind: 'secret', name: secret})) return true;
    fail(
      cb,
      grpc.status.PERMISSION_DENIED,
      `Permission '${permission}' denied for resource '${resource}' (or it may not exist).`,
    );
    return false;
  };
}

/** Builds the gRPC server; call `bindAsync` to listen. With `access`, every call is authorized. */
export function createSecretServer(store: SecretStore, access?: Access): grpc.Server {
  const server = new grpc.Server();
  const allowed = authorizer(access);

  function resolve(name: unknown, cb: Callback, wantVersion: boolean) {
    const m = typeof name === 'string' ? NAME_RE.exec(name) : null;
    if (!m || (wantVersion && !m[3]) || (!wantVersion && m[3])) {
      fail(cb, grpc.status.INVALID_ARGUMENT, `Invalid resource name: "${String(name)}"`);
      return undefined;
    }
    const [, project, secret, versionId] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
    ];
    const versions = store.get(secret);
    if (!versions) {
      fail(
        cb,
        grpc.status.NOT_FOUND,
        `Secret [projects/${project}/secrets/${secret}] not found or has no versions.`,
      );
      return undefined;
    }
    if (!wantVersion) return {project, secret, versions};
    const index = versionId === 'latest' ? versions.length : Number(versionId);
    if (!Number.isInteger(index) || index < 1 || index > versions.length) {
      fail(
        cb,
        grpc.status.NOT_FOUND,
        `Secret Version [projects/${project}/secrets/${secret}/versions/${versionId}] not found.`,
      );
      return undefined;
    }
    return {project, secret, versions, index, version: versions[index - 1]!};
  }

  const versionResource = (project: string, secret: string, index: number, v: Version) => ({
    name: `projects/${project}/secrets/${secret}/versions/${index}`,
    createTime: timestamp(v.createTime),
    state: 'ENABLED',
  });

  const secretResource = (project: string, secret: string) => ({
    name: `projects/${project}/secrets/${secret}`,
    replication: {automatic: {}},
  });

  server.addService(loadService(), {
    AccessSecretVersion(call: Call, cb: Callback) {
      const name = String(call.request.name ?? '');
      if (!allowed(call, cb, 'secretmanager.versions.access', name)) return;
      const r = resolve(call.request.name, cb, true);
      if (!r?.version) return;
      cb(null, {
        name: `projects/${r.project}/secrets/${r.secret}/versions/${r.index}`,
        payload: {data: r.version.value, dataCrc32c: crc32cInt(r.version.value)},
      });
    },
    GetSecretVersion(call: Call, cb: Callback) {
      if (!allowed(call, cb, 'secretmanager.versions.get', String(call.request.name ?? ''))) return;
      const r = resolve(call.request.name, cb, true);
      if (r?.version) cb(null, versionResource(r.project, r.secret, r.index, r.version));
    },
    GetSecret(call: Call, cb: Callback) {
      if (!allowed(call, cb, 'secretmanager.secrets.get', String(call.request.name ?? ''))) return;
      const r = resolve(call.request.name, cb, false);
      if (r) cb(null, secretResource(r.project, r.secret));
    },
    ListSecrets(call: Call, cb: Callback) {
      const parent = String(call.request.parent ?? '');
      if (!allowed(call, cb, 'secretmanager.secrets.list', parent)) return;
      const project = parent.replace(/^projects\//, '');
      cb(null, {
        secrets: store.names().map(n => secretResource(project, n)),
        totalSize: store.names().length,
      });
    },
    CreateSecret(call: Call, cb: Callback) {
      const parent = String(call.request.parent ?? '');
      const secretId = String(call.request.secretId ?? '');
      if (!allowed(call, cb, 'secretmanager.secrets.create', parent)) return;
      if (!/^projects\/[^/]+$/.test(parent) || !SECRET_ID_RE.test(secretId)) {
        return fail(
          cb,
          grpc.status.INVALID_ARGUMENT,
          `Invalid parent "${parent}" or secret id "${secretId}"`,
        );
      }
      if (!store.create(secretId)) {
        return fail(
          cb,
          grpc.status.ALREADY_EXISTS,
          `Secret [${parent}/secrets/${secretId}] already exists.`,
        );
      }
      cb(null, secretResource(parent.slice('projects/'.length), secretId));
    },
    AddSecretVersion(call: Call, cb: Callback) {
      if (!allowed(call, cb, 'secretmanager.versions.add', String(call.request.parent ?? '')))
        return;
      const r = resolve(call.request.parent, cb, false);
      if (!r) return;
      const payload = call.request.payload as {data?: Buffer} | undefined;
      const index = store.add(r.secret, Buffer.from(payload?.data ?? Buffer.alloc(0)));
      cb(null, versionResource(r.project, r.secret, index, r.versions[index - 1]!));
    },
  });
  return server;
}
