/**
 * A self-signed certificate for the stand-ins that speak TLS on loopback,
 * valid for 127.0.0.1 and localhost (a client trusts it as its own root).
 */
import {generate} from 'selfsigned';

export async function localCertificate(): Promise<{key: string; cert: string}> {
  const pems = await generate([{name: 'commonName', value: '127.0.0.1'}], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {name: 'basicConstraints', cA: true},
      {
        name: 'subjectAltName',
        altNames: [
          {type: 2, value: 'localhost'},
          {type: 7, ip: '127.0.0.1'},
        ],
      },
    ],
  });
  return {key: pems.private, cert: pems.cert};
}
