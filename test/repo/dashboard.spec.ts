/**
 * The Cloud Monitoring dashboard (infra/dashboard.tf renders
 * infra/dashboard.json), checked offline: its JSON against the dashboards
 * API's own message definitions, and every chart against a metric that
 * exists — a log-based metric defined in infra/, or a documented GCP metric
 * of the allow-list below — with the monitored resource and labels that
 * metric has. test/services/worker.spec.ts and checker.spec.ts check that the
 * code logs what those log-based metrics select.
 */
import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {RECORDING_TYPES} from '../../functions/core/content-types';
import {
  Block,
  Hcl,
  INFRA,
  interpolate,
  loadInfra,
  locals,
  resource,
  resources,
} from '../../local/iam/terraform';
import {validateDashboard} from './dashboard-schema';

/** The values a test deployment renders the dashboard with. */
const VALUES: Record<string, string> = {
  'var.prefix': 'grm',
  'replace(local.prefix, "-", "_")': 'grm_',
  'var.genesys_client_requests_per_minute': '3000',
};

/**
 * Documented GCP metric types the dashboard may chart, with their monitored
 * resource (null: any) and metric labels. Source: the lists of Google Cloud
 * metrics, https://cloud.google.com/monitoring/api/metrics_gcp (Cloud Run:
 * metrics_gcp_p_z#gcp-run; Pub/Sub: metrics_gcp_p_z#gcp-pubsub; Logging:
 * metrics_gcp_i_o#gcp-logging).
 */
const GCP_METRICS: Record<
  string,
  {resource: string | null; labels: string[]; distribution?: true}
> = {
  'run.googleapis.com/request_count': {
    resource: 'cloud_run_revision',
    labels: ['response_code', 'response_code_class', 'route'],
  },
  'run.googleapis.com/container/instance_count': {
    resource: 'cloud_run_revision',
    labels: ['state', 'container_name'],
  },
  'run.googleapis.com/container/memory/utilizations': {
    resource: 'cloud_run_revision',
    labels: ['container_name'],
    distribution: true,
  },
  'logging.googleapis.com/log_entry_count': {resource: null, labels: ['log', 'severity']},
  'pubsub.googleapis.com/subscription/num_undelivered_messages': {
    resource: 'pubsub_subscription',
    labels: [],
  },
  'pubsub.googleapis.com/subscription/oldest_unacked_message_age': {
    resource: 'pubsub_subscription',
    labels: [],
  },
  'pubsub.googleapis.com/subscription/dead_letter_message_count': {
    resource: 'pubsub_subscription',
    labels: [],
  },
};

/** Monitored resource labels, from https://cloud.google.com/monitoring/api/resources. */
const RESOURCE_LABELS: Record<string, string[]> = {
  cloud_run_revision: [
    'project_id',
    'service_name',
    'revision_name',
    'location',
    'configuration_name',
  ],
  pubsub_subscription: ['project_id', 'subscription_id'],
};

interface Metric {
  resource: string | null;
  labels: string[];
  distribution?: boolean;
}

/** Every google_logging_metric of infra/ by its rendered name (for_each instances expanded). */
function logMetrics(docs: Hcl[], all: Block): Record<string, Metric> {
  const out: Record<string, Metric> = {};
  for (const [type, , body] of resources(docs)) {
    if (type !== 'google_logging_metric') continue;
    const descriptor = (body.metric_descriptor as Block[])[0]!;
    const filter = interpolate(String(body.filter), VALUES, all);
    const metric: Metric = {
      resource: /resource\.type="([^"]+)"/.exec(filter)?.[1] ?? null,
      labels: ((descriptor.labels as Block[] | undefined) ?? []).map(l => String(l.key)),
      distribution: descriptor.value_type === 'DISTRIBUTION',
    };
    const keys =
      body.for_each === undefined
        ? [undefined]
        : body.for_each === '${toset(local.recording_types)}'
          ? (all.recording_types as string[])
          : assert.fail(`unexpected for_each ${String(body.for_each)}`);
    for (const key of keys) {
      const name = interpolate(String(body.name), key ? {...VALUES, 'each.key': key} : VALUES, all);
      out[name] = metric;
    }
  }
  return out;
}

/** The templatefile() call of local.dashboard_json: its arguments, by name, as expressions. */
function templateArgs(all: Block): Record<string, string> {
  const text = String(all.dashboard_json);
  assert.match(text, /^\$\{templatefile\("\$\{path\.module\}\/dashboard\.json", \{/);
  const args: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*([a-z_]+)\s*=\s*(.+?)\s*$/gm)) args[m[1]!] = m[2]!;
  return args;
}

/** dashboard.json rendered as templatefile() renders it, with the test deployment's values. */
function render(docs: Hcl[], all: Block): {json: string; args: Record<string, string>} {
  const args = templateArgs(all);
  const value = (expr: string): string => {
    if (expr.startsWith('"')) return interpolate(JSON.parse(expr) as string, VALUES, all);
    const local = /^local\.([a-z_]+)$/.exec(expr)?.[1];
    if (local) return interpolate(`\${local.${local}}`, VALUES, all);
    const res = /^(google_[a-z_0-9]+)\.([a-z_0-9]+)\.name$/.exec(expr);
    if (res) return interpolate(String(resource(docs, res[1]!, res[2]!).name), VALUES, all);
    if (expr in VALUES) return VALUES[expr]!;
    return assert.fail(`cannot evaluate ${expr}`);
  };
  const template = fs.readFileSync(path.join(INFRA, 'dashboard.json'), 'utf8');
  const json = template.replace(/(\$?)\$\{([^}]*)\}/g, (whole, escaped: string, name: string) => {
    if (escaped) return whole.slice(1); // $${...} is a literal ${...}
    assert.ok(name in args, `dashboard.json uses \${${name}}, which dashboard.tf does not pass`);
    return value(args[name]!);
  });
  return {json, args};
}

interface DataSet {
  timeSeriesQuery: {
    timeSeriesFilter?: {filter: string; aggregation?: {groupByFields?: string[]}};
    prometheusQuery?: string;
  };
  legendTemplate?: string;
}
interface Tile {
  widget: {title: string; xyChart?: {dataSets: DataSet[]; thresholds?: Array<{value: number}>}};
}
interface Dashboard {
  displayName: string;
  mosaicLayout: {tiles: Tile[]};
}

/** Problems of one Monitoring filter: its terms, metric, resource type and label names. */
function filterProblems(
  filter: string,
  groupBy: string[],
  legend: string | undefined,
  metrics: Record<string, Metric>,
): string[] {
  const terms: Record<string, string[]> = {};
  for (const term of filter.split(/\s+AND\s+/)) {
    const m = /^([a-z_.]+)\s*=\s*(?:"([^"\\]*)"|one_of\(((?:"[^"\\]*"(?:,\s*)?)+)\))$/.exec(
      term.trim(),
    );
    if (!m) return [`unsupported filter term: ${term}`];
    const values = m[2] !== undefined ? [m[2]] : [...m[3]!.matchAll(/"([^"]*)"/g)].map(v => v[1]!);
    terms[m[1]!.replace(/^(resource|metric)\.label\./, '$1.labels.')] = values;
  }
  const type = terms['metric.type']?.[0];
  if (!type) return [`no metric.type in ${filter}`];
  const user = /^logging\.googleapis\.com\/user\/(.+)$/.exec(type)?.[1];
  const metric = user !== undefined ? metrics[user] : GCP_METRICS[type];
  if (!metric)
    return [
      user !== undefined
        ? `${type}: no google_logging_metric of infra/ is named ${user}`
        : `${type}: not a documented GCP metric of the allow-list`,
    ];
  const resourceType = terms['resource.type']?.[0];
  const problems: string[] = [];
  if (!resourceType) problems.push(`no resource.type in ${filter}`);
  else if (metric.resource !== null && metric.resource !== resourceType)
    problems.push(`${type} is written for ${metric.resource}, not ${resourceType}`);
  const fields = [
    ...Object.keys(terms),
    ...groupBy.map(f => f.replace(/^(resource|metric)\.label\./, '$1.labels.')),
    ...[...(legend ?? '').matchAll(/\$\{([a-z_.]+)\}/g)].map(m => m[1]!),
  ];
  for (const f of fields) {
    const label = /^(resource|metric)\.labels\.([a-z_]+)$/.exec(f);
    if (label?.[1] === 'metric' && !metric.labels.includes(label[2]!))
      problems.push(`${type} has no label ${label[2]}`);
    else if (label?.[1] === 'resource' && !RESOURCE_LABELS[resourceType ?? '']?.includes(label[2]!))
      problems.push(`${resourceType} has no label ${label[2]}`);
    else if (!label && f !== 'metric.type' && f !== 'resource.type')
      problems.push(`unknown field ${f} in ${filter}`);
  }
  return problems;
}

/** Problems of a PromQL query: every metric it names must exist, a distribution's as one. */
function promProblems(query: string, metrics: Record<string, Metric>): string[] {
  const names = [...query.matchAll(/\b([a-z_]+):([a-z0-9_]+)/g)];
  if (names.length === 0) return [`no metric in ${query}`];
  return names.flatMap(([whole, domain, rest]) => {
    if (domain !== 'logging_googleapis_com' || !rest!.startsWith('user_'))
      return [`${whole}: only log-based metrics are queried in PromQL here`];
    const m = /^user_(.+?)(_sum|_count|_bucket)?$/.exec(rest!)!;
    const metric = metrics[m[1]!] ?? (m[2] ? undefined : metrics[rest!.slice(5)]);
    if (!metric) return [`${whole}: no google_logging_metric of infra/ is named ${m[1]}`];
    if (m[2] && !metric.distribution) return [`${whole}: ${m[1]} is not a distribution`];
    return [];
  });
}

function chartProblems(d: Dashboard, metrics: Record<string, Metric>): string[] {
  return d.mosaicLayout.tiles.flatMap(({widget}) =>
    (widget.xyChart?.dataSets ?? []).flatMap(ds => {
      const q = ds.timeSeriesQuery;
      const problems = q.timeSeriesFilter
        ? filterProblems(
            q.timeSeriesFilter.filter,
            q.timeSeriesFilter.aggregation?.groupByFields ?? [],
            ds.legendTemplate,
            metrics,
          )
        : q.prometheusQuery !== undefined
          ? promProblems(q.prometheusQuery, metrics)
          : ['a data set without a filter or a PromQL query'];
      return problems.map(p => `${widget.title}: ${p}`);
    }),
  );
}

describe('infra/dashboard.json (the Cloud Monitoring dashboard)', () => {
  let docs: Hcl[];
  let all: Block;
  let dashboard: Dashboard;
  let metrics: Record<string, Metric>;
  before(async () => {
    docs = await loadInfra();
    all = locals(docs);
    dashboard = JSON.parse(render(docs, all).json) as Dashboard;
    metrics = logMetrics(docs, all);
  });
  const copy = () => JSON.parse(JSON.stringify(dashboard)) as Dashboard;
  const chart = (d: Dashboard, title: RegExp) =>
    d.mosaicLayout.tiles.find(t => title.test(t.widget.title))!.widget.xyChart!;

  it('should be created from dashboard.json with the rest of the deployment', () => {
    const body = resource(docs, 'google_monitoring_dashboard', 'main');
    assert.strictEqual(body.dashboard_json, '${local.dashboard_json}');
    // Every argument the template gets is used, and only those.
    const template = fs.readFileSync(path.join(INFRA, 'dashboard.json'), 'utf8');
    const used = new Set([...template.matchAll(/(?<!\$)\$\{([a-z_]+)\}/g)].map(m => m[1]!));
    assert.deepStrictEqual([...used].sort(), Object.keys(templateArgs(all)).sort());
    // It waits for every log-based metric it charts.
    const waits = body.depends_on as string[];
    for (const [type, name] of resources(docs).map(([t, n]) => [t, n]))
      if (type === 'google_logging_metric')
        assert.ok(waits.includes(`\${google_logging_metric.${name}}`), `no wait for ${name}`);
  });

  it('should be a Dashboard message of the Monitoring dashboards API', () => {
    assert.deepStrictEqual(validateDashboard(dashboard), []);
    assert.strictEqual(dashboard.displayName, 'genesys-recording-migrator (grm)');
  });

  it('should reject a misspelt field, a wrong enum, a malformed Duration and a widget of two kinds', () => {
    const misspelt = copy() as unknown as {mosaicLayout: {tiles: Array<{widget: Block}>}};
    const w = misspelt.mosaicLayout.tiles[0]!.widget;
    w.xyChrat = w.xyChart;
    delete w.xyChart;
    assert.deepStrictEqual(validateDashboard(misspelt), [
      'dashboard.mosaicLayout.tiles[0].widget.xyChrat: unknown field of Widget',
    ]);
    const inner = copy();
    const ds = inner.mosaicLayout.tiles[1]!.widget.xyChart!.dataSets[0]! as unknown as Block;
    ds.legendTemplat = ds.legendTemplate;
    const agg = (ds.timeSeriesQuery as DataSet['timeSeriesQuery']).timeSeriesFilter!
      .aggregation as Block;
    agg.perSeriesAligner = 'ALIGN_PERCENTILE_96';
    agg.alignmentPeriod = '1h';
    const problems = validateDashboard(inner).join('\n');
    assert.match(problems, /dataSets\[0\]\.legendTemplat: unknown field of DataSet/);
    assert.match(problems, /perSeriesAligner: "ALIGN_PERCENTILE_96" is not one of/);
    assert.match(problems, /alignmentPeriod: a Duration must look like/);
    const both = copy();
    (both.mosaicLayout.tiles[0]!.widget as Block).text = {content: 'x'};
    assert.match(validateDashboard(both).join('\n'), /xyChart and text are one choice of Widget/);
  });

  it('should chart only metrics that exist, on their resource and with their labels', () => {
    assert.deepStrictEqual(chartProblems(dashboard, metrics), []);
    // Each way a chart can name what nobody produces is caught.
    const broken = copy();
    const f = chart(broken, /^Days decided/).dataSets[0]!.timeSeriesQuery.timeSeriesFilter!;
    f.filter = f.filter.replace('days_decided', 'days_done');
    const requests = chart(broken, /^Function requests/).dataSets[0]!.timeSeriesQuery
      .timeSeriesFilter!;
    requests.filter = requests.filter.replace('request_count', 'request_total');
    chart(
      broken,
      /^Instances/,
    ).dataSets[0]!.timeSeriesQuery.timeSeriesFilter!.aggregation!.groupByFields = [
      'metric.label.service',
    ];
    const backlog = chart(broken, /^Batches waiting/).dataSets[0]!.timeSeriesQuery
      .timeSeriesFilter!;
    backlog.filter = backlog.filter.replace('"pubsub_subscription"', '"pubsub_topic"');
    const bytes = chart(broken, /^Bytes exported/).dataSets[0]!.timeSeriesQuery;
    bytes.prometheusQuery = bytes.prometheusQuery!.replace('exported_bytes_call', 'bytes_call');
    chart(broken, /^Genesys 429/).dataSets[0]!.legendTemplate = '${metric.labels.oauth}';
    assert.deepStrictEqual(chartProblems(broken, metrics), [
      'Days decided per day, by status (success / failure): logging.googleapis.com/user/grm_days_done: no google_logging_metric of infra/ is named grm_days_done',
      'Bytes exported in the last 24 h, by recording type: logging_googleapis_com:user_grm_bytes_call_sum: no google_logging_metric of infra/ is named grm_bytes_call',
      'Genesys 429 answers (rate limited), by OAuth client: logging.googleapis.com/user/grm_genesys_requests has no label oauth',
      'Batches waiting in grm-recording-batches-worker (undelivered messages): pubsub.googleapis.com/subscription/num_undelivered_messages is written for pubsub_subscription, not pubsub_topic',
      'Batches waiting in grm-recording-batches-worker (undelivered messages): pubsub_topic has no label subscription_id',
      'Function requests, by function and status class: run.googleapis.com/request_total: not a documented GCP metric of the allow-list',
      'Instances, by function: run.googleapis.com/container/instance_count has no label service',
    ]);
  });

  it("should chart the three functions by their services' names, and the deployment's subscriptions", () => {
    const functions = Object.keys(all.functions as Block).map(k => `grm-${k}`);
    const services = new Set<string>();
    const subscriptions = new Set<string>();
    for (const t of dashboard.mosaicLayout.tiles)
      for (const ds of t.widget.xyChart?.dataSets ?? []) {
        const filter = ds.timeSeriesQuery.timeSeriesFilter?.filter ?? '';
        for (const m of filter.matchAll(/service_name=one_of\(([^)]*)\)/g))
          for (const v of m[1]!.matchAll(/"([^"]+)"/g)) services.add(v[1]!);
        for (const m of filter.matchAll(/subscription_id="([^"]+)"/g)) subscriptions.add(m[1]!);
      }
    assert.deepStrictEqual([...services].sort(), functions.sort());
    assert.deepStrictEqual([...subscriptions].sort(), [
      'grm-recording-batches-dead-letter-keep',
      'grm-recording-batches-worker',
    ]);
  });

  it('should draw the configured request limit per OAuth client on the Genesys requests chart', () => {
    assert.strictEqual(
      templateArgs(all).client_rate_limit,
      'var.genesys_client_requests_per_minute',
    );
    const requests = chart(dashboard, /^Genesys requests per minute/);
    assert.deepStrictEqual(
      requests.thresholds!.map(t => t.value),
      [3000],
    );
    // Requests per minute: the chart's alignment is one minute.
    assert.strictEqual(
      (requests.dataSets[0]!.timeSeriesQuery.timeSeriesFilter!.aggregation as Block)
        .alignmentPeriod,
      '60s',
    );
  });

  it('should chart exports for every recording type, from one metric pair per type', () => {
    assert.deepStrictEqual(all.recording_types, [...RECORDING_TYPES]);
    for (const title of [/^Recordings exported/, /^Bytes exported/])
      assert.deepStrictEqual(
        chart(dashboard, title).dataSets.map(d => d.legendTemplate),
        [...RECORDING_TYPES],
      );
  });
});
