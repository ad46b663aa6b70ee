/**
 * The permissions of the predefined roles infra/ grants, as Google's IAM
 * roles reference lists them (the ones the local stand-ins and `grm doctor`
 * check: Cloud Storage objects and buckets, Secret Manager versions, Cloud
 * Run invocation, Pub/Sub publishing and consuming). Custom roles come from
 * infra/ itself. A role that is not listed here grants nothing, so a grant
 * of a role this table does not know is refused rather than guessed at.
 */
const OBJECT_READ = ['storage.objects.get', 'storage.objects.list'];
const OBJECT_USER = [
  ...OBJECT_READ,
  'storage.objects.create',
  'storage.objects.delete',
  'storage.objects.restore',
  'storage.objects.update',
  'storage.multipartUploads.abort',
  'storage.multipartUploads.create',
  'storage.multipartUploads.list',
  'storage.multipartUploads.listParts',
];
const OBJECT_ADMIN = [
  ...OBJECT_USER,
  'storage.objects.getIamPolicy',
  'storage.objects.setIamPolicy',
  'storage.objects.setRetention',
  'storage.objects.overrideUnlockedRetention',
];
const BUCKET_ADMIN = [
  'storage.buckets.create',
  'storage.buckets.delete',
  'storage.buckets.get',
  'storage.buckets.list',
  'storage.buckets.update',
  'storage.buckets.getIamPolicy',
  'storage.buckets.setIamPolicy',
];

export const PREDEFINED_ROLES: Readonly<Record<string, readonly string[]>> = {
  'roles/storage.objectViewer': OBJECT_READ,
  'roles/storage.objectCreator': [
    'storage.objects.create',
    'storage.multipartUploads.abort',
    'storage.multipartUploads.create',
    'storage.multipartUploads.listParts',
  ],
  'roles/storage.objectUser': OBJECT_USER,
  'roles/storage.objectAdmin': OBJECT_ADMIN,
  'roles/storage.admin': [...OBJECT_ADMIN, ...BUCKET_ADMIN],
  'roles/storage.legacyBucketReader': ['storage.buckets.get', 'storage.objects.list'],
  'roles/storage.legacyBucketOwner': [
    'storage.buckets.get',
    'storage.buckets.update',
    'storage.buckets.getIamPolicy',
    'storage.buckets.setIamPolicy',
    'storage.objects.list',
    'storage.objects.create',
    'storage.objects.delete',
  ],
  'roles/storage.legacyObjectReader': ['storage.objects.get'],
  'roles/storage.legacyObjectOwner': [
    'storage.objects.get',
    'storage.objects.update',
    'storage.objects.getIamPolicy',
    'storage.objects.setIamPolicy',
  ],
  'roles/secretmanager.secretAccessor': ['secretmanager.versions.access'],
  'roles/iam.serviceAccountTokenCreator': [
    'iam.serviceAccounts.getAccessToken',
    'iam.serviceAccounts.getOpenIdToken',
    'iam.serviceAccounts.signBlob',
    'iam.serviceAccounts.signJwt',
  ],
  'roles/run.invoker': ['run.routes.invoke'],
  'roles/run.viewer': ['run.services.get', 'run.services.list'],
  'roles/pubsub.publisher': ['pubsub.topics.publish'],
  'roles/pubsub.subscriber': ['pubsub.subscriptions.consume', 'pubsub.topics.attachSubscription'],
  'roles/pubsub.viewer': [
    'pubsub.subscriptions.get',
    'pubsub.subscriptions.list',
    'pubsub.topics.get',
    'pubsub.topics.list',
  ],
};

/** The permissions a role holds: predefined, or a custom role of infra/. */
export function permissionsOf(
  role: string,
  custom: Readonly<Record<string, readonly string[]>>,
): readonly string[] {
  return custom[role] ?? PREDEFINED_ROLES[role] ?? [];
}
