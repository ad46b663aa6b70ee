/**
 * `GET /v3/scopes` through the official SendGrid client, for `grm doctor`:
 * the scopes of the key it is called with, or SendGrid's status. Nothing of
 * a failed request is kept but its status or network code (the request's
 * headers hold the key). Locally `apiUrl` points the client at the sink.
 */
import {Client} from '@sendgrid/client';
import type {SendGridProbe} from '../ops/doctor/ports';

export class SendGridScopes implements SendGridProbe {
  constructor(private readonly apiUrl?: string) {}

  async scopes(key: string): Promise<{status: number; scopes?: string[]} | {error: string}> {
    const client = new Client();
    client.setApiKey(key); // first: it resets the base URL
    if (this.apiUrl) client.setDefaultRequest('baseUrl', this.apiUrl.replace(/\/$/, ''));
    try {
      const [res, body] = await client.request({method: 'GET', url: '/v3/scopes'});
      const scopes = (body as {scopes?: unknown} | null)?.scopes;
      return {
        status: res.statusCode,
        ...(Array.isArray(scopes) ? {scopes: scopes.filter(s => typeof s === 'string')} : {}),
      };
    } catch (err) {
      const code = (err as {code?: unknown} | null)?.code;
      if (typeof code === 'number') return {status: code};
      return {error: typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : 'no answer'};
    }
  }
}
